"""Files that tests build on the fly: documents of each format ingest reads."""

from pathlib import Path

PAGE = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents %d 0 R "
    b"/Resources << /Font << /F1 7 0 R >> >> >>"
)


def two_page_pdf(path: Path) -> None:
    """A minimal text PDF written by hand (no PDF writer with text support is a dependency)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        PAGE % 5,
        PAGE % 6,
    ]
    for text in (b"First page about rivers.", b"Second page about mountains."):
        stream = b"BT /F1 12 Tf 20 100 Td (" + text + b") Tj ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
