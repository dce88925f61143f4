"""The Alpaca-2 prompt family: render, truncate history, export to each tool. (templates helper fills this in)"""
