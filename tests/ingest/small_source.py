"""A small source cut from the tiny corpus, for ingest tests that run the whole pipeline several times."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def copy_small_families(tiny_corpus: Path, out_root: Path, families: int = 3) -> Path:
    """The ``families`` smallest families of four clips of part 0 (a REAL and three fakes, none empty),
    copied with their metadata to ``out_root/dfdc_train_part_0``; returns that part folder."""
    part = tiny_corpus / "dfdc_train_part_0"
    metadata = json.loads((part / "metadata.json").read_text())
    members: dict[str, list[str]] = {}
    for name, entry in sorted(metadata.items()):
        members.setdefault(entry.get("original") or name, []).append(name)
    sized = sorted(
        (sum((part / n).stat().st_size for n in names), original)
        for original, names in members.items()
        if len(names) == 4 and all((part / n).stat().st_size > 0 for n in names)
    )
    chosen = [name for _, original in sized[:families] for name in members[original]]
    out = out_root / "dfdc_train_part_0"
    out.mkdir(parents=True)
    for name in chosen:
        shutil.copyfile(part / name, out / name)
    (out / "metadata.json").write_text(json.dumps({name: metadata[name] for name in chosen}))
    return out
