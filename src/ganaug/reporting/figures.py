"""Figures and tables of the report: PNG bytes become numbered ``data:`` URIs the template places,
tables get numbers in page order and cells the template's ``table`` macro renders.

Every figure is embedded, so the report references nothing outside itself; anything that is not
a PNG is left out rather than shown as a broken image.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG bytes, or None when they are not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def read_png(path: Path) -> bytes | None:
    """The bytes of a PNG file, or None when it is missing, unreadable or not a PNG."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if png_size(data) else None


class Numbering:
    """Figure and table numbers in page order."""

    def __init__(self) -> None:
        self.figures = 0
        self.tables = 0

    def figure(
        self, png: bytes | None, caption: str = "", alt: str = "", display_width: int | None = None
    ) -> dict[str, Any] | None:
        """A numbered figure; ``display_width``: about how wide it is shown (pixel-art upscaling below it).

        ``caption`` is empty where the template holds the caption (a static one).
        """
        if not png:
            return None
        size = png_size(png)
        if size is None:  # not a PNG: leave it out rather than embed a broken image
            return None
        self.figures += 1
        pixel = display_width is not None and size[0] < display_width
        return {
            "uri": data_uri(png),
            "caption": caption,
            "alt": alt or caption[:120],
            "number": self.figures,
            "width": size[0],
            "height": size[1],
            "pixel": pixel,
            # Sample grids are enlarged (crisp pixels) but at most 2.5x, so tiny grids stay modest.
            "max_width": int(size[0] * 2.5) if pixel else None,
        }

    def table(self) -> int:
        self.tables += 1
        return self.tables


def cell(text: str, cls: str = "") -> dict[str, str]:
    """A cell of a numbered table; ``cls``: its CSS class ("ref" greyed, "pos"/"neg" green/red, "ci")."""
    return {"text": text, "cls": cls}
