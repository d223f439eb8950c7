"""Small lakes to report on, and checks of what a report page shows."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from dfdc_lake.lake.lake import Lake
from tests.train.synthetic_lake import LakeSpec, write_lake

__all__ = ["SMALL_LAKE", "check_images", "image_sources", "write_small_lake"]

# 4 families in 2 parts (1 chunk each), short tracks and spectrograms: a report of it takes ~1 s.
SMALL_LAKE = LakeSpec(families=4, parts=2, chunks_per_part=1, crops_per_track=4, logmel_frames=80, seed=3)


def write_small_lake(url: str) -> Lake:
    """The small synthetic lake (fakes of every kind, one no-face video per chunk) at ``url``."""
    write_lake(url, SMALL_LAKE)
    return Lake.open(url)


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")


def image_sources(html_text: str) -> list[str]:
    """The ``src`` of every ``<img>`` of a page."""
    parser = _ImageSources()
    parser.feed(html_text)
    return parser.sources


def check_images(page: Path) -> int:
    """Every ``<img>`` of ``page`` is a file beside it (or a data: URI) that decodes as an image; returns
    how many there are."""
    sources = image_sources(page.read_text(encoding="utf-8"))
    for src in sources:
        if src.startswith("data:"):
            data = base64.b64decode(src.split(",", 1)[1])
        else:
            path = (page.parent / src).resolve()
            assert path.is_file(), f"{page.name}: <img src={src!r}> is not a file"
            data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.width > 0 and image.height > 0, f"{page.name}: {src} is empty"
    return len(sources)
