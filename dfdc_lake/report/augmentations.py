"""A page of training samples as the model sees them: each track's stored crop beside its augmented crops.

Written by ``dfdc-lake train LAKE ... --preview N`` (no training, no Ray) to
``STORAGE_PATH/NAME/augmentations.html``, so a recipe's augmentation chain can be looked at before a
run is paid for. The crops come out of the same ``decode_rows`` the training workers call, with the
run's settings, seed and epoch 0: the page shows exactly the first epoch's draws for these samples.
Images are inline PNG data URIs: one self-contained file, local or on S3.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from dfdc_lake.report.html import esc

__all__ = ["augmentation_page", "write_augmentation_page"]

PAGE_FILE = "augmentations.html"
_STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#1d232b;background:#f6f7f9}"
    "table{border-collapse:collapse;background:#fff}td,th{border:1px solid #d8dde3;padding:4px;"
    "vertical-align:middle;text-align:left}img{display:block}.muted{color:#6b7683}"
)


def _png_uri(pixels: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _stored_crop(row: Mapping[str, Any]) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(bytes(row["crops_jpeg"][0]))) as image:
        return np.asarray(image.convert("RGB"))


def _label(row: Mapping[str, Any]) -> str:
    kind = "fake" if row.get("is_fake") else "real"
    face = row.get("face_fake")
    return kind + ("" if face is None else f" (face {'swapped' if face else 'original'})")


def augmentation_page(rows: Iterable[Mapping[str, Any]], spec: Any, seed: int, title: str) -> str:
    """HTML of ``rows`` (lake rows), each as its first stored crop and its augmented training crops.

    Args:
        rows: lake rows with ``features.lake_columns()``.
        spec: the run's ``InputSpec``.
        seed: the run's seed (epoch 0 draws are shown).
        title: the page title.
    """
    from dfdc_lake.train.inputs.features import decode_rows

    lines = []
    for row in rows:
        faces = decode_rows([row], spec, True, seed=seed, epoch=0)["faces"][0]
        crops = "".join(f"<td><img alt='augmented crop' src='{_png_uri(face)}'></td>" for face in faces)
        has_points = row.get("crop_landmarks") is not None
        lines.append(
            f"<tr><td>{esc(row['sample_id'])}<br><span class='muted'>{esc(_label(row))}; "
            f"{'landmark cutout' if has_points else 'no landmarks: random erasing'}</span></td>"
            f"<td><img alt='stored crop' src='{_png_uri(_stored_crop(row))}'></td>{crops}</tr>"
        )
    header = (
        f"<p>augmentation <b>{esc(spec.augmentation)}</b>, resize <b>{esc(spec.resize)}</b>, "
        f"{spec.image_size_px} px, {spec.frames_per_sample} crops per track, seed {seed}, epoch 0</p>"
    )
    table = "<table><tr><th>sample</th><th>stored</th><th colspan='99'>as trained</th></tr>"
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>{header}{table}{''.join(lines)}"
        "</table></body></html>\n"
    )


def write_augmentation_page(lake: Any, storage_path: str, name: str, cfg: Any, samples: int) -> str:
    """Write the page of the first ``samples`` samples of ``lake``'s committed Parquet shards into the run
    folder ``storage_path/name``; returns its URL."""
    from dfdc_lake.config import Config
    from dfdc_lake.errors import ConfigError
    from dfdc_lake.lake.reader import ShardReader
    from dfdc_lake.train.driver.lake_index import read_lake_index
    from dfdc_lake.train.driver.run_files import RunFiles
    from dfdc_lake.train.inputs.features import InputSpec, lake_columns

    if samples < 1:
        raise ConfigError(f"--preview {samples}: expected at least one sample")
    index = read_lake_index(lake, "parquet")
    ingest = lake.ingest_config(index.config_hashes) or Config()
    spec = InputSpec.from_config(cfg, ingest.audio.n_mels)
    urls = [url for chunk in index.chunks for url in chunk.shard_urls]
    reader = ShardReader.of(lake, "parquet", columns=lake_columns(), read_ahead_batches=0)
    rows = itertools.islice(reader.rows([lake.arrow_path(u) for u in urls]), samples)
    html_text = augmentation_page(rows, spec, cfg.seed, f"{cfg.recipe} recipe: training crops of {lake.url}")
    run = RunFiles.open(storage_path, name)
    run.write_text(PAGE_FILE, html_text)
    return f"{run.url}/{PAGE_FILE}"
