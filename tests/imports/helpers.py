"""Helpers for the import tests: files from text, one call to the import service."""

from __future__ import annotations

import io

from imports import services


def csv_bytes(text: str, *, bom: bool = False, delimiter: str = ",") -> bytes:
    """A CSV file from lines written with commas (each line stripped)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    body = "\n".join(lines) + "\n"
    if delimiter != ",":
        body = body.replace(",", delimiter)
    return (b"\xef\xbb\xbf" if bom else b"") + body.encode()


def run(kind: str, content: bytes | str, **kwargs):
    """Import ``content`` (CSV text or bytes) as ``kind`` through the one service."""
    data = csv_bytes(content) if isinstance(content, str) else content
    handle = io.BytesIO(data)
    handle.name = kwargs.pop("name", f"{kind}.csv")
    result = services.import_run(kind=kind, source=handle, **kwargs)
    result.close()
    return result


def codes(result) -> list[tuple]:
    return [(e["row"], e["column"], e["code"]) for e in result.errors]
