"""The DFDC catalog: every clip listed by the parts of a source, and the families they form.

A SOURCE (local path or ``s3://`` URL) is one of:

- a DFDC root holding ``dfdc_train_part_K`` folders and/or ``dfdc_train_part_K.zip`` archives,
- a single part folder (it holds ``metadata.json``),
- a single ``.zip`` archive (``metadata.json`` at its root or inside one top folder, as Kaggle ships it).

Archives are read in place (see ``storage``). A video id listed by two parts is kept once, from the
first part in (part number, folder before archive) order; the others are reported in
``Catalog.duplicates`` and logged, never counted twice.

What is wrong is refused, all of it at once: refused metadata keys (a path, a control character, not
``.mp4``: see ``metadata``), malformed entries, keys given twice, unreadable ``metadata.json`` files and
part archives that are not readable zips (still downloading, or damaged) are collected over every part
and raised together as one ``SourceProblemsError`` (a ``CatalogError``: the CLI exits 2) before anything
is ingested. A single hostile key refuses the whole source rather than being skipped, because it means
the metadata was not written by DFDC's tools and the rest of it cannot be trusted either; listing every
problem keeps that refusal loud and cheap to act on.

What is odd but usable is kept and counted instead, on the ``Catalog`` and in a logged warning: files a
part holds but its metadata does not list (``unlisted``), parts whose metadata is ``{}``
(``empty_parts``), and FAKEs made from a FAKE (``fakes_of_fakes``).
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dfdc_lake.errors import CatalogError, SourceProblemsError
from dfdc_lake.records import Family, VideoEntry
from dfdc_lake.source.metadata import parse_metadata, video_id_of
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
# What zipfile raises on a truncated or damaged archive (no central directory, bad CRC, cut-off data).
_BROKEN_ZIP = (zipfile.BadZipFile, zlib.error, EOFError)


@dataclass(frozen=True)
class DuplicateEntry:
    """A clip (video id) listed by more than one part; only ``kept_url`` is in the catalog."""

    filename: str
    kept_url: str
    dropped_url: str


@dataclass
class Catalog:
    """All clips of a source, deduplicated by video id, sorted by (part, file name), and what was left out.

    Attributes:
        source_url: the normalized source (absolute local path or ``s3://`` URL).
        entries: one per clip listed by a part's ``metadata.json``.
        duplicates: clips listed by more than one part; only the first is in ``entries``.
        unlisted: URLs of video files (``.mp4``, ``.mov``, ``.mkv``, ...) that lie in a part (folder or
            archive) but that its ``metadata.json`` does not list, in part order; they are never read
            or ingested. Other files (a README, notes) are not counted.
        empty_parts: sorted numbers of the parts whose ``metadata.json`` is an empty object ``{}``.
        fakes_of_fakes: sorted file names of the FAKEs whose ``original`` is listed as a FAKE itself;
            they stay in ``entries``, each in a family with no REAL original.
    """

    source_url: str
    entries: list[VideoEntry]
    duplicates: list[DuplicateEntry] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    empty_parts: list[int] = field(default_factory=list)
    fakes_of_fakes: list[str] = field(default_factory=list)

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


def _unreadable_zip(archive_url: str, err: BaseException) -> str:
    return f"zip archive {archive_url} is not a readable zip (still downloading or damaged?): {err}"


def _open_zip_part(archive_url: str, problems: list[str]) -> _Part | None:
    """The part in ``archive_url``, or None with the reason added to ``problems``."""
    try:
        return _zip_part(archive_url)
    except _BROKEN_ZIP as err:
        problems.append(_unreadable_zip(archive_url, err))
    except FileNotFoundError:
        problems.append(f"zip archive {archive_url} does not exist")
    except CatalogError as err:
        problems.append(str(err))
    return None


def _discover(url: str, problems: list[str]) -> Iterator[_Part]:
    """The source's readable parts in (part number, folder before archive) order.

    Archives are opened as the parts are taken, so a broken one's problem joins ``problems`` in part order.
    """
    if url.endswith(".zip"):
        single = _open_zip_part(url, problems)
        if single is not None:
            yield single
        return
    try:
        listing = list_dir(url)
    except FileNotFoundError:
        raise CatalogError(f"DFDC source {url} does not exist") from None
    if _has_metadata(listing):
        yield _folder_part(url, listing)
        return
    found: list[tuple[int, int, ListedFile]] = []
    for entry in listing:
        part = _part_number(entry.name)
        if part is not None and (entry.is_dir or entry.name.endswith(".zip")):
            found.append((part, 0 if entry.is_dir else 1, entry))
    if not found:
        raise CatalogError(
            f"DFDC source {url} holds no {METADATA_NAME}, dfdc_train_part_* folders or dfdc_train_part_*.zip archives"
        )
    for _, _, entry in sorted(found, key=lambda item: item[:2]):
        opened = _folder_part(entry.url) if entry.is_dir else _open_zip_part(entry.url, problems)
        if opened is not None:
            yield opened


def _part_entries(part: _Part, problems: list[str]) -> list[VideoEntry] | None:
    """The part's clips, or None with every reason its metadata is unusable added to ``problems``."""
    metadata_url = part.clip_url(METADATA_NAME)
    try:
        raw = read_bytes(metadata_url)
    except FileNotFoundError:
        problems.append(f"metadata file {metadata_url} does not exist")
        return None
    except _BROKEN_ZIP as err:
        problems.append(_unreadable_zip(part.archive_url or metadata_url, err))
        return None
    sizes = {e.name: e.size_bytes for e in part.listing if not e.is_dir and e.size_bytes is not None}
    try:
        return parse_metadata(raw, source=metadata_url, part=part.part, url_for=part.clip_url, sizes=sizes)
    except SourceProblemsError as err:
        problems.extend(err.problems)
        return None


# Files that look like clips; anything else a part holds (a README, ground truth) is not a clip to miss.
_VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")


def _unlisted(part: _Part, entries: list[VideoEntry]) -> list[str]:
    listed = {entry.filename for entry in entries}
    return [
        f.url
        for f in part.listing
        if not f.is_dir and f.name not in listed and f.name.lower().endswith(_VIDEO_SUFFIXES)
    ]


def _deduplicate(entries: Iterable[VideoEntry]) -> tuple[list[VideoEntry], list[DuplicateEntry]]:
    # By video id, the lake's key: "a.mp4" in one part and "a.MP4" in another are the same clip.
    kept: dict[str, VideoEntry] = {}
    duplicates = []
    for entry in entries:
        first = kept.get(entry.video_id)
        if first is None:
            kept[entry.video_id] = entry
        else:
            duplicates.append(DuplicateEntry(entry.filename, first.url, entry.url))
    return sorted(kept.values(), key=lambda e: (e.part, e.filename)), duplicates


def _fakes_of_fakes(entries: Iterable[VideoEntry]) -> list[str]:
    fakes = [entry for entry in entries if entry.label == "FAKE"]
    fake_ids = {entry.video_id for entry in fakes}
    return sorted(e.filename for e in fakes if e.original is not None and video_id_of(e.original) in fake_ids)


def _warn_about_odd_clips(catalog: Catalog) -> None:
    url = catalog.source_url
    if catalog.duplicates:
        log.warning(
            "%s: %d clips are listed by more than one part; kept the first of each (e.g. %s)",
            url,
            len(catalog.duplicates),
            catalog.duplicates[0].filename,
        )
    if catalog.unlisted:
        log.warning(
            "%s: %d files lie in a part but its %s does not list them; they are not ingested (e.g. %s)",
            url,
            len(catalog.unlisted),
            METADATA_NAME,
            catalog.unlisted[0],
        )
    if catalog.empty_parts:
        log.warning(
            "%s: %d parts list no clip at all: %s", url, len(catalog.empty_parts), catalog.empty_parts
        )
    if catalog.fakes_of_fakes:
        log.warning(
            "%s: %d FAKEs were made from another FAKE; each is ingested without a REAL original (e.g. %s)",
            url,
            len(catalog.fakes_of_fakes),
            catalog.fakes_of_fakes[0],
        )


def _normalize_source(source_url: str) -> str:
    if "://" in source_url:
        return source_url.rstrip("/")
    return os.path.abspath(os.path.expanduser(source_url))


def load_catalog(source_url: str) -> Catalog:
    """Read every part's ``metadata.json`` under a DFDC source.

    Args:
        source_url: a DFDC root, a part folder, a folder of part archives, or one archive; local or s3://.

    Returns:
        The catalog, with the files, parts and FAKEs it left out or found odd counted on it.

    Raises:
        SourceProblemsError: (a ``CatalogError``) a metadata file is unreadable or malformed, or a part
            archive is not a readable zip; ``problems`` lists every one over all parts, each naming the
            file (and the key).
        CatalogError: the source does not exist or holds no DFDC part.
    """
    url = _normalize_source(source_url)
    problems: list[str] = []
    entries: list[VideoEntry] = []
    unlisted: list[str] = []
    empty_parts: set[int] = set()
    for part in _discover(url, problems):
        listed = _part_entries(part, problems)
        if listed is None:
            continue
        if not listed:
            empty_parts.add(part.part)
        entries.extend(listed)
        unlisted.extend(_unlisted(part, listed))
    if problems:
        raise SourceProblemsError(f"DFDC source {url}", problems)
    kept, duplicates = _deduplicate(entries)
    catalog = Catalog(url, kept, duplicates, unlisted, sorted(empty_parts), _fakes_of_fakes(kept))
    _warn_about_odd_clips(catalog)
    log.info("catalog %s: %d clips in %d parts", url, len(kept), len({e.part for e in kept}))
    return catalog


def group_families(entries: Iterable[VideoEntry]) -> list[Family]:
    """Group clips into families (a REAL original and the FAKEs made from it).

    A FAKE whose original is not among ``entries`` (or is a FAKE) still forms a family, with
    ``original=None``. A family's id is its original's video id. Families are sorted by (part, family_id),
    where a family's part is its original's (else its first fake's); fakes within a family by
    (part, video_id).
    """
    originals: dict[str, VideoEntry] = {}
    fakes: dict[str, list[VideoEntry]] = {}
    for entry in entries:
        if entry.label == "REAL":
            originals[entry.video_id] = entry
        else:
            fakes.setdefault(entry.family_id, []).append(entry)
    families = []
    for family_id in originals.keys() | fakes.keys():
        members = sorted(fakes.get(family_id, []), key=lambda e: (e.part, e.video_id))
        families.append(Family(family_id=family_id, original=originals.get(family_id), fakes=members))
    return sorted(families, key=lambda f: (f.videos[0].part, f.family_id))
