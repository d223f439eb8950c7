from dfdc_lake.ingest.progress import ProgressTracker
from dfdc_lake.plan.chunks import plan_chunks
from dfdc_lake.records import Family, VideoEntry


def entry(name: str, part: int, original: str | None = None) -> VideoEntry:
    return VideoEntry(
        video_id=name,
        filename=f"{name}.mp4",
        part=part,
        label="FAKE" if original else "REAL",
        original=f"{original}.mp4" if original else None,
        url=f"/x/{name}.mp4",
    )


def families() -> list[Family]:
    out = []
    for part in (1, 0):
        for i in range(5):
            real = entry(f"r{part}{i}aaaaaaa", part)
            fakes = [entry(f"f{part}{i}{k}aaaaaa", part, real.video_id) for k in range(i % 3)]
            out.append(Family(real.video_id, real, fakes))
    out.append(Family("orphanxxxx", None, [entry("forphanxxx", 1, "orphanxxxx")]))
    return out


def test_plan_is_deterministic_never_splits_families_and_covers_every_video():
    fams = families()
    plan = plan_chunks(fams, videos_per_chunk=4)
    again = plan_chunks(list(reversed(fams)), videos_per_chunk=4)
    assert [(c.chunk_id, [f.family_id for f in c.families]) for c in plan] == [
        (c.chunk_id, [f.family_id for f in c.families]) for c in again
    ]
    seen = [v.filename for c in plan for v in c.videos]
    assert sorted(seen) == sorted(v.filename for f in fams for v in f.videos)
    assert len(seen) == len(set(seen))
    for chunk in plan:
        assert chunk.chunk_id.startswith(f"p{chunk.part:02d}-c")
        assert all(v.part == chunk.part for v in chunk.videos)
    assert plan[0].chunk_id == "p00-c0000"


def test_progress_line_reports_rate_eta_and_failures():
    tracker = ProgressTracker(total_videos=10, skipped_videos=4, min_interval_s=0)
    tracker.record(["ok", "ok", "decode_error"])
    line = tracker.line()
    assert "videos 7/10" in line
    assert "failed 1" in line
    assert "ETA" in line
