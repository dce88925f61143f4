"""Files that tests build on the fly: documents of each format ingest reads."""

from pathlib import Path

PAGE = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents %d 0 R "
    b"/Resources << /Font << /F1 7 0 R >> >> >>"
)


def write_pdf(path: Path, objects: list[bytes]) -> None:
    """A PDF of ``objects`` (numbered from 1, the catalog first) with its cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


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
    write_pdf(path, objects)


def docx_bytes(*paragraphs: str) -> bytes:
    """A real .docx (python-docx's own template) holding ``paragraphs``."""
    import io

    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def rewrite_zip_member(data: bytes, member: str, change, compression: int | None = None) -> bytes:
    """``data`` (a zip) with ``member``'s bytes replaced by ``change(old_bytes)``. ``compression``
    stamps another method number on that member (stored as is), e.g. 99 (AES), which zipfile
    cannot read."""
    import io
    import struct
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == member:
                payload = change(payload)
                if compression is not None:
                    info.compress_type = zipfile.ZIP_STORED
            out.writestr(info, payload)
    result = bytearray(buffer.getvalue())
    if compression is not None:
        name = member.encode()
        for signature, method_at, name_at in ((b"PK\x03\x04", 8, 30), (b"PK\x01\x02", 10, 46)):
            start = 0
            while (start := result.find(signature, start)) >= 0:
                if result[start + name_at : start + name_at + len(name)] == name:
                    struct.pack_into("<H", result, start + method_at, compression)
                start += 4
    return bytes(result)


def mutate(data: bytes, rng, edits: int = 3) -> bytes:
    """``data`` with ``edits`` random byte-level edits (flip, cut, duplicate, insert junk)."""
    out = bytearray(data)
    for _ in range(edits):
        if not out:
            break
        at = rng.randrange(len(out))
        kind = rng.randrange(4)
        if kind == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del out[at : at + rng.randrange(1, 64)]
        elif kind == 2:
            out[at:at] = out[at : at + rng.randrange(1, 64)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return bytes(out)
