"""The report's overview (``index.html``) and its page of what went wrong (``failures.html``)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dfdc_lake.records import Outcome, OutcomeStatus
from dfdc_lake.report.facts import LakeFacts
from dfdc_lake.report.family_page import safe_name
from dfdc_lake.report.html import STATUS_COLOURS, bar_chart, esc, page, table
from dfdc_lake.report.images import save_jpeg
from dfdc_lake.report.source_frames import SourceFrames
from dfdc_lake.units import human_bytes

__all__ = ["FamilyLink", "failures_page", "overview_page"]

_MAX_LISTED = 500  # videos listed per status on the failures page
_MAX_PROBLEMS = 30  # problems listed in the overview's banner


@dataclass(frozen=True)
class FamilyLink:
    family_id: str
    part: int
    videos: int
    fakes: int


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _health_banner(facts: LakeFacts) -> str:
    health = facts.health
    how = (
        "checked by listing chunks/ against the commit records (presence and size; "
        "`dfdc-lake verify` or `report --verify` also checks sha256, rows and schema)"
        if health.how == "listing"
        else "checked by a full verify (sha256, rows and schema of every shard)"
    )
    orphans = (
        f"<p>{len(health.orphans)} orphaned objects under chunks/ that no commit record names (a crashed or "
        "running attempt left them; readers never open them; `dfdc-lake gc` lists them).</p>"
        if health.orphans
        else ""
    )
    if health.problems:
        kinds = Counter(p.kind for p in health.problems)
        items = "".join(
            f"<li><b>{esc(p.kind)}</b> {esc(p.path)}: {esc(p.detail)}</li>"
            for p in health.problems[:_MAX_PROBLEMS]
        )
        more = (
            f"<li>… and {len(health.problems) - _MAX_PROBLEMS} more</li>"
            if len(health.problems) > _MAX_PROBLEMS
            else ""
        )
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        return (
            f"<div class='banner bad'><b>verify fails on this lake: {len(health.problems)} problems "
            f"({esc(summary)}).</b> Rows of missing or damaged shards are left out of this report. "
            f"<span class='muted'>{esc(how)}.</span><ul>{items}{more}</ul>{orphans}</div>"
        )
    if facts.is_empty:
        manifest = "lake.json is there" if facts.manifest else "there is no lake.json either"
        return (
            f"<div class='banner note'><b>This lake is empty:</b> no commit record under commits/ "
            f"({manifest}). Nothing was committed here yet.{orphans}</div>"
        )
    shards = sum(len(r.shards) for r in facts.records)
    return (
        f"<div class='banner good'>All {shards} committed shards are in place. "
        f"<span class='muted'>{esc(how)}.</span>{orphans}</div>"
    )


def _numbers(facts: LakeFacts, families: int) -> str:
    samples = sum(r.num_samples for r in facts.records)
    videos = sum(len(r.outcomes) for r in facts.records)
    cards = [("chunks committed", len(facts.records)), ("videos", videos), ("samples (face tracks)", samples),
             ("families", families), ("runs", len(facts.runs))]  # fmt: skip
    return (
        "<div class='grid'>"
        + "".join(
            f"<div class='card'><div class='muted'>{esc(k)}</div><div style='font-size:22px'>{v:,}</div></div>"
            for k, v in cards
        )
        + "</div>"
    )


def _counts_section(facts: LakeFacts) -> str:
    status = facts.count_by("status")
    order = [s.value for s in OutcomeStatus if s.value in status]
    by_part = sorted(facts.count_by("part").items(), key=lambda kv: int(kv[0]))
    stages = {k: v for k, v in facts.stage_seconds().items() if k != "total"}
    total = facts.stage_seconds().get("total")
    formats: dict[str, list[int]] = {}
    for record in facts.records:
        for shard in record.shards:
            entry = formats.setdefault(shard.format, [0, 0, 0])
            entry[0], entry[1], entry[2] = entry[0] + 1, entry[1] + shard.rows, entry[2] + shard.bytes
    return (
        "<div class='grid'><div><h2>Videos by outcome status</h2>"
        + bar_chart([(s, status[s]) for s in order], colours=STATUS_COLOURS)
        + "</div><div><h2>Videos by label</h2>"
        + bar_chart(sorted(facts.count_by("label").items()))
        + "</div></div><h2>Videos by DFDC part</h2>"
        + bar_chart([(f"part {p}", n) for p, n in by_part])
        + "<h2>Time per stage</h2><p class='muted'>seconds summed over every chunk's commit record "
        + f"(worker time, not wall time){'' if total is None else f'; total {total:,.1f} s'}</p>"
        + bar_chart(sorted(stages.items(), key=lambda kv: -kv[1]), unit="s", value_format="{:,.1f}")
        + "<h2>Bytes per format</h2>"
        + table(["format", "shards", "rows", "bytes"],
                [(f, n, rows, human_bytes(b)) for f, (n, rows, b) in sorted(formats.items())], numeric=(1, 2, 3))
    )  # fmt: skip


def _runs_section(facts: LakeFacts) -> str:
    rows = [
        (r.run_id, r.started_at, r.finished_at or "not finished", None if r.wall_s is None else f"{r.wall_s:,.1f}",
         r.source, len(r.plan.chunks), len(r.committed), len(r.failed), r.config_hash)
        for r in reversed(facts.runs)
    ]  # fmt: skip
    headers = [
        "run",
        "started",
        "finished",
        "wall s",
        "source",
        "planned",
        "committed",
        "failed",
        "config hash",
    ]
    error = f"<div class='banner note'>{esc(facts.runs_error)}</div>" if facts.runs_error else ""
    run = facts.latest_run
    if run is None:
        config = "<p class='muted'>No run record: the config the lake was made with is unknown.</p>"
    else:
        text = json.dumps(run.config.model_dump(mode="json"), indent=1, sort_keys=True)
        config = (
            f"<h2>Config of the latest run</h2><p>hash <code>{esc(run.config_hash)}</code> "
            f"(run {esc(run.run_id)})</p><details open><summary>config</summary><pre>{esc(text)}</pre></details>"
        )
    return (
        "<h2>Runs</h2>"
        + error
        + (table(headers, rows, numeric=(3, 5, 6, 7)) if rows else "<p class='muted'>none</p>")
        + config
    )


def overview_page(facts: LakeFacts, links: list[FamilyLink], families_total: int, built_s: float) -> str:
    """``index.html``: health first, then counts, time per stage, bytes, the family pages, runs, config."""
    items = "".join(
        f"<li><a href='families/{esc(safe_name(f.family_id))}.html'>{esc(f.family_id)}</a> "
        f"<span class='muted'>part {f.part}, {_count(f.videos, 'video')}, {_count(f.fakes, 'fake')}</span></li>"
        for f in links
    )
    families = (
        f"<h2>Family pages</h2><p class='muted'>{len(links)} of {families_total} families with samples "
        "(a deterministic sample by the hash of the family id; <code>--families N</code>, "
        f"<code>--family ID</code>)</p><ul>{items}</ul>"
        if links
        else "<h2>Family pages</h2><p class='muted'>none: no family has samples</p>"
    )
    body = (
        f"<h1>Lake {esc(facts.url)}</h1>"
        + _health_banner(facts)
        + _numbers(facts, families_total)
        + (_counts_section(facts) if not facts.is_empty else "")
        + families
        + "<p><a href='failures.html'>What went wrong: videos without samples and why</a></p>"
        + _runs_section(facts)
        + f"<p class='muted'>report built in {built_s:.1f} s</p>"
    )
    return page(f"dfdc-lake report: {facts.url}", body)


def _no_face_gallery(facts: LakeFacts, out_dir: Path, limit: int) -> str:
    outcomes = [o for r in facts.records for o in r.outcomes if o.status is OutcomeStatus.NO_FACE][:limit]
    if not outcomes:
        return ""
    source = SourceFrames.open(facts.latest_run.source if facts.latest_run else None)
    note = (
        f"<div class='banner note'>The source ({esc(source.source or 'unknown')}) is not reachable from here, so "
        f"no frames are shown: {esc(source.problem)}</div>"
        if source.problem
        else f"<p class='muted'>3 frames of each, decoded from the source {esc(source.source)} now (the lake keeps none).</p>"
    )
    cards = []
    for outcome in outcomes if source.problem is None else []:
        frames = source.frames(outcome.part, outcome.filename)
        if isinstance(frames, str):
            pictures = f"<p class='muted'>{esc(frames)}</p>"
        else:
            pictures = ""
            for k, frame in enumerate(frames):
                name = f"img/no_face/{safe_name(outcome.video_id)}-{k}.jpg"
                save_jpeg(_shrink(frame, 120), out_dir / name)
                pictures += f"<img src='{esc(name)}' alt='frame'> "
        cards.append(
            f"<div class='card'><b>{esc(outcome.video_id)}</b> <span class='muted'>{esc(outcome.reason)}</span><br>{pictures}</div>"
        )
    return note + "<div class='grid'>" + "".join(cards) + "</div>"


def _shrink(frame: np.ndarray, height_px: int) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(frame)
    width = max(1, round(image.width * height_px / max(1, image.height)))
    return np.asarray(image.resize((width, height_px), Image.Resampling.BILINEAR))


def failures_page(facts: LakeFacts, out_dir: Path, gallery: int) -> str:
    """``failures.html``: every status other than ``ok``, with reasons; ``no_face`` with source frames."""
    by_status: dict[str, list[tuple[str, Outcome]]] = {}
    for record in facts.records:
        for o in record.outcomes:
            if o.status is not OutcomeStatus.OK:
                by_status.setdefault(o.status.value, []).append((record.chunk_id, o))
    sections = []
    for status in [s.value for s in OutcomeStatus if s.value in by_status]:
        items = by_status[status]
        colour = STATUS_COLOURS.get(status, "#555")
        rows = [
            (o.video_id, o.family_id, o.part, o.label, o.reason, chunk) for chunk, o in items[:_MAX_LISTED]
        ]
        more = (
            f"<p class='muted'>… and {len(items) - _MAX_LISTED} more (dfdc-lake sql LAKE \"SELECT * FROM outcomes WHERE status = '{status}'\")</p>"
            if len(items) > _MAX_LISTED
            else ""
        )
        gallery_html = _no_face_gallery(facts, out_dir, gallery) if status == "no_face" else ""
        sections.append(
            f"<h2><span class='tag' style='background:{colour}'>{esc(status)}</span> {_count(len(items), 'video')}</h2>"
            + gallery_html
            + table(
                ["video", "family", "part", "label", "reason", "chunk"],
                [tuple(r) for r in rows],
                numeric=(2,),
            )
            + more
        )
    if not sections:
        sections.append(
            "<p>Every committed video is <b>ok</b>.</p>" if facts.records else "<p>The lake is empty.</p>"
        )
    body = "<h1>What went wrong</h1><p class='muted'>Videos whose outcome is not ok, with the reason recorded at ingest.</p>"
    return page("dfdc-lake report: what went wrong", body + "".join(sections))
