"""A family's page: the original and each fake side by side, frame by frame, with the difference maps.

Per face track, one table: a column per sampled frame (its index and time), a row of crop thumbnails
per video (detection score under each; "gap" where the tracker filled the box in), and under each
fake a row of heat maps of |fake - original|, paired by track and frame index. The first track's table
ends each row with the video's log-mel spectrogram (one colour scale for the family) and each
difference row with the fake's spectrogram difference to the original's.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dfdc_lake.report.families import FamilyView, VideoView
from dfdc_lake.report.html import STATUS_COLOURS, Raw, esc, page, table
from dfdc_lake.report.images import (
    DIFF_FULL_SCALE,
    colormap,
    decode_thumbnail,
    difference_map,
    save_jpeg,
    save_png,
    spectrogram_image,
)

__all__ = ["FamilyPageWriter", "safe_name"]

_SPEC_DIFF_FULL_SCALE_DB = 20.0


def safe_name(text: str) -> str:
    """A file name for an id: kept when it is plain, else made plain and told apart by a hash (ids
    come from metadata keys, which may hold dots, spaces or non-ASCII letters)."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,80}", text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', text)[:60]}-{digest}"


def _flag(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _score(value: float | None, unit: str = "") -> str:
    """A label's score in brackets, or nothing where none was measured (REAL, no original, old shards)."""
    return "" if value is None or value != value else f" ({value:.2f}{unit})"


def _pick(count: int, limit: int) -> list[int]:
    """``limit`` positions spread evenly over ``count`` (all of them when there are fewer)."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)}) if limit > 1 else [0]


@dataclass
class FamilyPageWriter:
    """Writes ``families/<id>.html`` and its pictures under ``img/<id>/`` of the report folder."""

    out_dir: Path
    frames_per_track: int = 10
    thumb_px: int = 64
    images_written: int = 0
    _thumbs: dict[tuple[str, int, int], np.ndarray] = field(default_factory=dict)

    def write(self, family: FamilyView) -> Path:
        """Write the family's page and pictures; returns the page's path."""
        self._thumbs.clear()
        name = safe_name(family.family_id)
        body = [
            f"<h1>Family {esc(family.family_id)}</h1>",
            f"<p>part {family.part}; {len(family.videos)} videos ({len(family.fakes)} fakes)</p>",
        ]
        if family.unreadable:
            items = "".join(f"<li>{esc(text)}</li>" for text in family.unreadable)
            body.append(
                f"<div class='banner bad'>Rows of this family could not be read:<ul>{items}</ul></div>"
            )
        body.append(self._videos_table(family))
        audio = self._audio_cells(family, name)
        track_ids = sorted({row["track_id"] for video in family.videos for row in video.tracks})
        for track_id in track_ids:
            body.append(
                self._track_section(family, name, track_id, audio if track_id == track_ids[0] else None)
            )
        if not track_ids:
            body.append("<p class='muted'>No face track in this family (see the videos' status above).</p>")
        path = self.out_dir / "families" / f"{name}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page(f"family {family.family_id}", "\n".join(body), depth=1), encoding="utf-8")
        return path

    def _videos_table(self, family: FamilyView) -> str:
        rows = []
        for video in family.videos:
            o = video.outcome
            colour = STATUS_COLOURS.get(o.status.value, "#555")
            face = (
                ", ".join(
                    f"t{r['track_id']}: {_flag(r['face_fake'])}{_score(r['face_diff'])}" for r in video.tracks
                )
                or "—"
            )
            share = None if o.face_frame_share is None else f"{o.face_frame_share:.2f}"
            rows.append(
                [o.video_id, o.label, Raw(f"<span class='tag' style='background:{colour}'>{esc(o.status.value)}</span>"),
                 o.reason, len(video.tracks), face, f"{_flag(o.audio_fake)}{_score(o.audio_diff_db, ' dB')}",
                 _flag(o.has_audio), share]
            )  # fmt: skip
        headers = [
            "video",
            "label",
            "status",
            "reason",
            "tracks",
            "face_fake (face_diff)",
            "audio_fake (audio_diff_db)",
            "audio",
            "face share",
        ]
        return "<h2>Videos</h2>" + table(headers, rows, numeric=(4, 8))

    def _thumb(
        self, video: VideoView, row: dict[str, Any], k: int, size: tuple[int, int] | None
    ) -> np.ndarray:
        key = (video.outcome.video_id, row["track_id"], row["frame_indices"][k])
        if key not in self._thumbs:
            width = size[1] if size else None
            self._thumbs[key] = decode_thumbnail(row["crops_jpeg"][k], self.thumb_px, width)
        return self._thumbs[key]

    def _save(self, pixels: np.ndarray, family_name: str, file_name: str) -> str:
        path = self.out_dir / "img" / family_name / file_name
        (save_png if file_name.endswith(".png") else save_jpeg)(pixels, path)
        self.images_written += 1
        return f"../img/{family_name}/{file_name}"

    def _track_section(self, family: FamilyView, name: str, track_id: int, audio: _Audio | None) -> str:
        """One table: a column per frame (and one for the spectrograms), a row per video and diff."""
        rows_of = {
            v.outcome.video_id: r for v in family.videos for r in v.tracks if r["track_id"] == track_id
        }
        videos = [v for v in family.videos if v.outcome.video_id in rows_of]
        reference = rows_of[videos[0].outcome.video_id]
        picked = _pick(len(reference["frame_indices"]), self.frames_per_track)
        frames = [reference["frame_indices"][k] for k in picked]
        times = dict(zip(reference["frame_indices"], reference["timestamps_s"], strict=False))
        head = "".join(f"<th>frame {f}<br>{times.get(f, float('nan')):.2f} s</th>" for f in frames)
        if audio is not None:
            head += "<th>log-mel spectrogram<br>time →</th>"
        lines = [f"<tr><th></th>{head}</tr>"]
        original = family.original if family.original in videos else None
        for video in videos:
            vid = video.outcome.video_id
            extra = None if audio is None else audio.cells.get(vid, "<td class='muted'>no audio</td>")
            lines.append(self._strip_row(video, rows_of[vid], frames, name, extra))
            if original is not None and video is not original:
                extra = None if audio is None else audio.diff_cells.get(vid, "<td class='muted'>—</td>")
                lines.append(self._diff_row(video, original, rows_of, frames, name, extra))
        legend = _diff_legend(track_id) if original is not None and len(videos) > 1 else ""
        note = f"<p class='muted'>{esc(audio.note)}</p>" if audio is not None and audio.note else ""
        return f"<h2>Faces, track {track_id}</h2><table class='strip'>{''.join(lines)}</table>{legend}{note}"

    def _strip_row(
        self, video: VideoView, row: dict[str, Any], frames: list[int], name: str, extra: str | None
    ) -> str:
        where = {f: k for k, f in enumerate(row["frame_indices"])}
        label = "original" if video.is_original else f"fake (face_fake: {_flag(row['face_fake'])})"
        cells = [f"<th>{esc(label)}<br><span class='muted'>{esc(video.outcome.video_id)}</span></th>"]
        for frame in frames:
            k = where.get(frame)
            if k is None:
                cells.append("<td class='muted'>—</td>")
                continue
            src = self._save(
                self._thumb(video, row, k, None),
                name,
                f"{safe_name(video.outcome.video_id)}-t{row['track_id']}-f{frame}.jpg",
            )
            score = row["det_scores"][k]
            caption = "gap" if score is None or math.isnan(score) else f"{score:.2f}"
            cells.append(
                f"<td><figure><img src='{esc(src)}' alt='crop'><figcaption>{caption}</figcaption></figure></td>"
            )
        return "<tr>" + "".join(cells) + (extra or "") + "</tr>"

    def _diff_row(
        self,
        fake: VideoView,
        original: VideoView,
        rows_of: dict[str, dict[str, Any]],
        frames: list[int],
        name: str,
        extra: str | None,
    ) -> str:
        fake_row, orig_row = rows_of[fake.outcome.video_id], rows_of[original.outcome.video_id]
        fake_at = {f: k for k, f in enumerate(fake_row["frame_indices"])}
        orig_at = {f: k for k, f in enumerate(orig_row["frame_indices"])}
        cells = ["<th>|fake &minus; original|</th>"]
        for frame in frames:
            if frame not in fake_at or frame not in orig_at:
                cells.append("<td class='muted'>—</td>")
                continue
            base = self._thumb(original, orig_row, orig_at[frame], None)
            heat, mean = difference_map(self._thumb(fake, fake_row, fake_at[frame], base.shape[:2]), base)
            src = self._save(
                heat, name, f"{safe_name(fake.outcome.video_id)}-t{fake_row['track_id']}-f{frame}-diff.png"
            )
            cells.append(
                f"<td><figure><img src='{esc(src)}' alt='difference'><figcaption>Δ {mean:.1f}</figcaption></figure></td>"
            )
        return "<tr>" + "".join(cells) + (extra or "") + "</tr>"

    def _audio_cells(self, family: FamilyView, name: str) -> _Audio:
        """Each video's spectrogram (and each fake's difference to the original's), on one scale."""
        spectra = {v.outcome.video_id: v.logmel_db() for v in family.videos}
        present = [s for s in spectra.values() if s is not None]
        audio = _Audio()
        if not present:
            audio.note = "No video of this family has audio in the lake."
            return audio
        vmax = max(float(np.percentile(s, 99.5)) for s in present)
        vmin = min(max(min(float(np.percentile(s, 0.5)) for s in present), vmax - 80.0), vmax - 1.0)
        original = family.original
        base = spectra.get(original.outcome.video_id) if original is not None else None
        for video in family.videos:
            vid, spec = video.outcome.video_id, spectra[video.outcome.video_id]
            if spec is None:
                continue
            src = self._save(
                spectrogram_image((spec - vmin) / (vmax - vmin)), name, f"{safe_name(vid)}-logmel.jpg"
            )
            label = "" if video.is_original else f"audio_fake: {_flag(video.outcome.audio_fake)}"
            audio.cells[vid] = _spectrogram_cell(src, label, "log-mel spectrogram")
            if base is not None and not video.is_original and base.shape == spec.shape:
                diff = np.abs(spec - base)
                src = self._save(
                    spectrogram_image(diff / _SPEC_DIFF_FULL_SCALE_DB),
                    name,
                    f"{safe_name(vid)}-logmel-diff.jpg",
                )
                audio.diff_cells[vid] = _spectrogram_cell(
                    src, f"Δ {diff.mean():.1f} dB", "spectrogram difference"
                )
        audio.note = (
            f"Spectrograms: low frequencies at the bottom, one colour scale for the family ({vmin:.0f} to "
            f"{vmax:.0f} dB); their differences from 0 to {_SPEC_DIFF_FULL_SCALE_DB:.0f} dB."
        )
        return audio


@dataclass
class _Audio:
    """Table cells of a family's spectrograms, by video id, and the note on their colour scales."""

    cells: dict[str, str] = field(default_factory=dict)
    diff_cells: dict[str, str] = field(default_factory=dict)
    note: str = ""


def _spectrogram_cell(src: str, caption: str, alt: str) -> str:
    return (
        f"<td><figure><img class='spec' src='{esc(src)}' alt='{esc(alt)}'>"
        f"<figcaption>{esc(caption)}</figcaption></figure></td>"
    )


def _diff_legend(track_id: int) -> str:
    stops = colormap(np.linspace(0, 1, 9))
    parts = "".join(
        f"<stop offset='{i / 8:.3f}' stop-color='rgb({r},{g},{b})'/>"
        for i, (r, g, b) in enumerate(stops.tolist())
    )
    return (
        "<p class='muted'>Heat maps: mean absolute difference over RGB per pixel of the two crop thumbnails "
        f"(Δ: its mean), 0 to {DIFF_FULL_SCALE:.0f} grey levels: "
        f"<svg xmlns='http://www.w3.org/2000/svg' width='160' height='12'><defs><linearGradient id='diff-scale-{track_id}'>"
        f"{parts}</linearGradient></defs><rect width='160' height='12' fill='url(#diff-scale-{track_id})'/></svg></p>"
    )
