"""The DFDC catalog: every clip listed by the parts of a source, and the families they form.

A SOURCE (local path or ``s3://`` URL) is one of:

- a DFDC root holding ``dfdc_train_part_K`` folders and/or ``dfdc_train_part_K.zip`` archives,
- a single part folder (it holds ``metadata.json``),
- a single ``.zip`` archive (``metadata.json`` at its root or inside one top folder, as Kaggle ships it).

Archives are read in place (see ``storage``). A file name listed by two parts is kept once, from the
first part in (part number, folder before archive) order; the others are reported in
``Catalog.duplicates`` and logged, never counted twice.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dfdc_lake.errors import CatalogError
from dfdc_lake.records import Family, VideoEntry
from dfdc_lake.source.metadata import parse_metadata
from dfdc_lake.source.storage import (
    ListedFile,
    join_url,
    list_dir,
    list_zip_dir,
    read_bytes,
    zip_member_url,
)

__all__ = ["Catalog", "DuplicateEntry", "group_families", "load_catalog"]

log = logging.getLogger(__name__)

METADATA_NAME = "metadata.json"
_PART_NAME = re.compile(r"dfdc_train_part_(\d+)")


@dataclass(frozen=True)
class DuplicateEntry:
    """A clip file name listed by more than one part; only ``kept_url`` is in the catalog."""

    filename: str
    kept_url: str
    dropped_url: str


@dataclass
class Catalog:
    """All clips of a source, deduplicated by file name, sorted by (part, file name)."""

    source_url: str
    entries: list[VideoEntry]
    duplicates: list[DuplicateEntry] = field(default_factory=list)

    @property
    def parts(self) -> list[int]:
        return sorted({entry.part for entry in self.entries})

    def families(self) -> list[Family]:
        """The catalog's families, sorted by (part, family_id)."""
        return group_families(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class _Part:
    """One part's clips: in a folder (``archive_url`` None) or in a folder of a zip archive."""

    part: int
    folder: str  # folder URL, or the member folder inside the archive ("" for its root)
    listing: list[ListedFile]
    archive_url: str | None = None

    def clip_url(self, name: str) -> str:
        if self.archive_url is None:
            return join_url(self.folder, name)
        return zip_member_url(self.archive_url, f"{self.folder}/{name}" if self.folder else name)


def _part_number(name: str) -> int | None:
    match = _PART_NAME.fullmatch(name.removesuffix(".zip"))
    return int(match.group(1)) if match else None


def _has_metadata(listing: list[ListedFile]) -> bool:
    return any(entry.name == METADATA_NAME and not entry.is_dir for entry in listing)


def _folder_part(url: str, listing: list[ListedFile] | None = None) -> _Part:
    part = _part_number(url.rstrip("/").rsplit("/", 1)[-1])
    if part is None:
        log.warning("part folder %s is not named dfdc_train_part_K; using part 0", url)
    return _Part(part or 0, url, listing if listing is not None else list_dir(url))


def _zip_part(archive_url: str) -> _Part:
    root = list_zip_dir(archive_url)
    folder = ""
    if not _has_metadata(root):
        folders = [e.name for e in root if e.is_dir and _has_metadata(list_zip_dir(archive_url, e.name))]
        if len(folders) != 1:
            raise CatalogError(
                f"zip archive {archive_url} must hold {METADATA_NAME} at its root or in exactly one top "
                f"folder; found it in {len(folders)} folders"
            )
        folder = folders[0]
    listing = list_zip_dir(archive_url, folder) if folder else root
    part = _part_number(folder) if folder else None
    part = part if part is not None else _part_number(archive_url.rsplit("/", 1)[-1])
    if part is None:
        log.warning("zip archive %s is not named dfdc_train_part_K; using part 0", archive_url)
    return _Part(part or 0, folder, listing, archive_url=archive_url)


def _discover(url: str) -> list[_Part]:
    if url.endswith(".zip"):
        return [_zip_part(url)]
    try:
        listing = list_dir(url)
    except FileNotFoundError:
        raise CatalogError(f"DFDC source {url} does not exist") from None
    if _has_metadata(listing):
        return [_folder_part(url, listing)]
    found: list[tuple[int, int, _Part]] = []
    for entry in listing:
        part = _part_number(entry.name)
        if part is None:
            continue
        if entry.is_dir:
            found.append((part, 0, _folder_part(entry.url)))
        elif entry.name.endswith(".zip"):
            found.append((part, 1, _zip_part(entry.url)))
    if not found:
        raise CatalogError(
            f"DFDC source {url} holds no {METADATA_NAME}, dfdc_train_part_* folders or dfdc_train_part_*.zip archives"
        )
    return [part for _, _, part in sorted(found, key=lambda item: item[:2])]


def _part_entries(part: _Part) -> list[VideoEntry]:
    metadata_url = part.clip_url(METADATA_NAME)
    try:
        raw = read_bytes(metadata_url)
    except FileNotFoundError:
        raise CatalogError(f"metadata file {metadata_url} does not exist") from None
    sizes = {e.name: e.size_bytes for e in part.listing if not e.is_dir and e.size_bytes is not None}
    return parse_metadata(raw, source=metadata_url, part=part.part, url_for=part.clip_url, sizes=sizes)


def _deduplicate(entries: Iterable[VideoEntry]) -> tuple[list[VideoEntry], list[DuplicateEntry]]:
    kept: dict[str, VideoEntry] = {}
    duplicates = []
    for entry in entries:
        first = kept.get(entry.filename)
        if first is None:
            kept[entry.filename] = entry
        else:
            duplicates.append(DuplicateEntry(entry.filename, first.url, entry.url))
    if duplicates:
        log.warning(
            "%d clip names are listed by more than one part; kept the first of each (e.g. %s)",
            len(duplicates),
            duplicates[0].filename,
        )
    return sorted(kept.values(), key=lambda e: (e.part, e.filename)), duplicates


def _normalize_source(source_url: str) -> str:
    if "://" in source_url:
        return source_url.rstrip("/")
    return os.path.abspath(os.path.expanduser(source_url))


def load_catalog(source_url: str) -> Catalog:
    """Read every part's ``metadata.json`` under a DFDC source.

    Args:
        source_url: a DFDC root, a part folder, a folder of part archives, or one archive; local or s3://.

    Raises:
        CatalogError: the source holds no DFDC part, or a metadata file is malformed (the message names
            the file and the offending key).
    """
    url = _normalize_source(source_url)
    entries: list[VideoEntry] = []
    for part in _discover(url):
        entries.extend(_part_entries(part))
    kept, duplicates = _deduplicate(entries)
    log.info("catalog %s: %d clips in %d parts", url, len(kept), len({e.part for e in kept}))
    return Catalog(source_url=url, entries=kept, duplicates=duplicates)


def group_families(entries: Iterable[VideoEntry]) -> list[Family]:
    """Group clips into families (a REAL original and the FAKEs made from it).

    A FAKE whose original is not among ``entries`` still forms a family, with ``original=None``. Families
    are sorted by (part, family_id), where a family's part is its original's (else its first fake's);
    fakes within a family by (part, video_id).
    """
    originals: dict[str, VideoEntry] = {}
    fakes: dict[str, list[VideoEntry]] = {}
    for entry in entries:
        if entry.label == "REAL":
            originals[entry.family_id] = entry
        else:
            fakes.setdefault(entry.family_id, []).append(entry)
    families = []
    for family_id in originals.keys() | fakes.keys():
        members = sorted(fakes.get(family_id, []), key=lambda e: (e.part, e.video_id))
        families.append(Family(family_id=family_id, original=originals.get(family_id), fakes=members))
    return sorted(families, key=lambda f: (f.videos[0].part, f.family_id))
