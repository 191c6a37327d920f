"""PDFs made by the tests: good ones with pypdf's PdfWriter, bad and hostile ones by hand."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject


def pdf(pages: int = 1, *, text: str = "", encrypt: tuple[str, str, str] | None = None) -> bytes:
    """A valid PDF; `text` makes otherwise equal files differ; `encrypt` = (user, owner, algorithm)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if text:
        writer.add_metadata({"/Title": text})
    if encrypt:
        user, owner, algorithm = encrypt
        writer.encrypt(user, owner, algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _padded(padding: int) -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    stream = DecodedStreamObject()
    stream.set_data(b" " * padding)  # a content stream of blanks: valid, draws nothing
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write_pdf_of_size(path: Path, size: int) -> Path:
    """Write a valid one-page PDF of exactly `size` bytes."""
    padding = max(0, size - len(_padded(0)))
    for _ in range(5):
        data = _padded(padding)
        if len(data) == size:
            path.write_bytes(data)
            return path
        padding += size - len(data)
    raise AssertionError(f"could not make a PDF of {size} bytes")


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF from raw object bodies (object 1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def exponential_page_tree(levels: int = 6, fanout: int = 64) -> bytes:
    """3 KB that claims 64**6 (68 billion) pages: every level's kids all point at the next level."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(levels):
        kid = b"%d 0 R " % (3 + level)
        objects.append(b"<< /Type /Pages /Kids [" + kid * fanout + b"] /Count %d >>" % fanout ** (levels - level))
    objects.append(b"<< /Type /Page /MediaBox [0 0 612 792] >>")
    return raw_pdf(objects)


def deeply_nested(depth: int = 200_000) -> bytes:
    """A page whose dictionary holds arrays nested 200,000 deep."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Nest " + b"[" * depth + b"]" * depth + b" >>",
        ]
    )


def page_tree(pages: int, fanout: int = 250) -> bytes:
    """A well-formed PDF with many pages (a balanced page tree), slow to read page by page."""
    nodes = (pages + fanout - 1) // fanout
    first_node, first_leaf = 3, 3 + nodes
    objects: dict[int, bytes] = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    kids = b" ".join(b"%d 0 R" % (first_node + i) for i in range(nodes))
    objects[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages
    for n in range(nodes):
        leaves = range(first_leaf + n * fanout, min(first_leaf + (n + 1) * fanout, first_leaf + pages))
        refs = b" ".join(b"%d 0 R" % k for k in leaves)
        objects[first_node + n] = b"<< /Type /Pages /Parent 2 0 R /Kids [" + refs + b"] /Count %d >>" % len(leaves)
        for leaf in leaves:
            objects[leaf] = b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] >>" % (first_node + n)
    return raw_pdf([objects[i] for i in range(1, len(objects) + 1)])
