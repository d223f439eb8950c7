"""Rendering one derived clip: decode the original, edit face frames and the audio track, encode.

Frames keep the original's time stamps, size and count (pixel-aligned, as DFDC's fakes are), except
for the controls that change them on purpose (``fps15`` keeps every other frame at its time stamp,
``quarter_res`` halves each side). The audio is re-encoded, edited or not, at the original's rate and
channel count.
"""

from __future__ import annotations

import shutil
import zlib

import numpy as np

from dfdc_lake.synth.manipulate import audio_edits
from dfdc_lake.synth.manipulate.donors import ClipFaceDonor, builtin_face, builtin_voice, match_donor_frames
from dfdc_lake.synth.manipulate.face_edits import FaceAt, FaceEdit, SmoothEdit, SwapEdit, WarpEdit
from dfdc_lake.synth.manipulate.faces import LandmarkTrack
from dfdc_lake.synth.manipulate.media import ClipWriter, read_audio, read_frames, remux_with_audio
from dfdc_lake.synth.manipulate.plan import DerivedJob
from dfdc_lake.synth.manipulate.regions import blend_region, region_around, region_rgb
from dfdc_lake.synth.manipulate.truth import ManipulationRecord

__all__ = ["render_group", "render_job"]

_REGION_SHARE = 1.6  # the edited region's side, in face-box sizes (room for the mask's soft edge)


def _face_edit(job: DerivedJob) -> FaceEdit | None:
    params, kind = job.params, job.manipulation.kind
    if job.manipulation.swaps_face:
        target, donor = job.source.track, job.face_donor
        if target is None or donor is None or donor.track is None:
            still = builtin_face()
            return SwapEdit(lambda index: still)
        frame_map = match_donor_frames(target, donor.track)
        return SwapEdit(ClipFaceDonor(donor.path, donor.track, frame_map, job.frames_planned).face)
    if kind == "smooth":
        return SmoothEdit(float(params["factor"]), float(params["blur_px"]))
    if kind == "warp":
        return WarpEdit(float(params["strength"]), float(job.source.info.fps), float(params["phase"]))
    return None


def _edit_face(planes: np.ndarray, edit: FaceEdit, track: LandmarkTrack, index: int) -> bool:
    """Apply ``edit`` to frame ``index`` in place; whether it changed the frame."""
    box, landmarks = track.boxes_xyxy[index], track.landmarks_xy[index]
    x1, y1, x2, y2 = (float(v) for v in box)
    frame_wh = (planes.shape[1], planes.shape[0] * 2 // 3)
    size = (_REGION_SHARE * (x2 - x1), _REGION_SHARE * (y2 - y1))
    region = region_around(((x1 + x2) / 2, (y1 + y2) / 2), size, frame_wh)
    if region is None:
        return False
    offset = np.array([region.x0, region.y0], np.float32)
    face = FaceAt(index, region, region_rgb(planes, region), box - np.tile(offset, 2), landmarks - offset)
    edited = edit.apply(face)
    if edited is None:
        return False
    blend_region(planes, region, *edited)
    return True


def _spans(changed: list[bool]) -> tuple[tuple[int, int], ...]:
    """``[start, end)`` runs of True in ``changed``."""
    flags = np.concatenate([[False], np.asarray(changed, bool), [False]])
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    return tuple((int(start), int(end)) for start, end in zip(edges[::2], edges[1::2], strict=True))


def _audio(job: DerivedJob) -> np.ndarray | None:
    """The derived clip's audio track (float32 ``[channels, samples]``), edited as the kind says."""
    found = read_audio(job.source.path)
    if found is None:
        return None
    samples, rate = found
    kind, params = job.manipulation.kind, job.params
    if job.manipulation.swaps_voice:
        donor = read_audio(job.voice_donor.path) if job.voice_donor is not None else None
        if donor is None:
            donor = builtin_voice(samples.shape[1], rate, zlib.crc32(job.source.name.encode())), rate
        voice = audio_edits.fit_track(*donor, like=samples, like_rate_hz=rate)
        return audio_edits.level_matched(voice, samples)
    if kind == "pitch_shift":
        return audio_edits.pitch_shifted(samples, rate, float(params["semitones"]))
    if kind == "band_limited":
        return audio_edits.band_limited(
            samples, rate, float(params["low_hz"]), float(params["high_hz"]), float(params["ratio"])
        )
    return samples


def _video(job: DerivedJob, writer: ClipWriter) -> tuple[int, list[bool]]:
    """Encode the derived frames; the number written and, per written frame, whether its face changed."""
    kind, info, track = job.manipulation.kind, job.source.info, job.source.track
    edit = _face_edit(job)
    start, end = job.frames_planned
    keep_every = int(job.params.get("keep_every", 1))
    half = (info.width_px // 4 * 2, info.height_px // 4 * 2)
    changed: list[bool] = []
    for index, (frame, planes) in enumerate(read_frames(job.source.path, max_frames=info.num_frames)):
        if index % keep_every:
            continue
        if kind == "quarter_res":
            planes = frame.reformat(width=half[0], height=half[1], format="yuv420p", interpolation="AREA")
            planes = planes.to_ndarray()
        hit = False
        if edit is not None and track is not None and start <= index < end:
            hit = _edit_face(planes, edit, track, index)
        changed.append(hit)
        writer.write_frame(planes, frame.pts)
    return len(changed), changed


def _writer(job: DerivedJob) -> ClipWriter:
    info, params = job.source.info, job.params
    width, height, fps = info.width_px, info.height_px, info.fps
    if job.manipulation.kind == "quarter_res":
        width, height = width // 4 * 2, height // 4 * 2
    fps /= int(params.get("keep_every", 1))
    return ClipWriter(
        job.out_path,
        width_px=width,
        height_px=height,
        fps=fps,
        time_base=info.time_base,
        settings=job.encode,
        audio_rate_hz=info.audio_rate_hz,
        audio_channels=info.audio_channels,
        audio_bitrate=info.audio_bitrate,
    )


def _record(job: DerivedJob, num_frames: int, spans: tuple[tuple[int, int], ...]) -> ManipulationRecord:
    manipulation = job.manipulation
    return ManipulationRecord(
        file=job.out_path.name,
        original=job.source.name,
        kind=manipulation.kind,
        variant=manipulation.variant,
        control=manipulation.traits.control,
        face_changed=bool(spans),
        audio_changed=manipulation.traits.audio,
        frames_changed=spans,
        num_frames=num_frames,
        params=dict(job.params),
    )


def render_job(job: DerivedJob) -> ManipulationRecord:
    """Write the derived clip of ``job`` and return its truth record."""
    if job.manipulation.kind == "copy":
        shutil.copyfile(job.source.path, job.out_path)
        return _record(job, job.source.info.num_frames, ())
    with _writer(job) as writer:
        audio = _audio(job)
        if audio is not None:
            writer.write_audio(audio)
        num_frames, changed = _video(job, writer)
    return _record(job, num_frames, _spans(changed))


def render_group(jobs: list[DerivedJob]) -> list[ManipulationRecord]:
    """Render jobs of one video key: the first is encoded, the others take its video and their audio."""
    first = render_job(jobs[0])
    records = [first]
    for job in jobs[1:]:
        info = job.source.info
        remux_with_audio(
            jobs[0].out_path, job.out_path, _audio(job), info.audio_rate_hz or 0, info.audio_bitrate
        )
        records.append(_record(job, first.num_frames, first.frames_changed))
    return records
