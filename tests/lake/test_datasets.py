"""The lake handle's readers for the ecosystem: pyarrow, Hugging Face ``datasets``, Ray Data, and the
stock ``webdataset`` library, on local disk and on S3. Each reads committed shards only."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.status import lake_status
from dfdc_lake.records import OutcomeStatus
from tests.lake.fakes import make_samples, write_chunk


def _lake_with_orphans(lake: Lake) -> list[str]:
    """Two committed chunks (7 samples) and an uncommitted attempt whose rows must never be read."""
    first, second = make_samples(4, seed=11), make_samples(3, seed=12, label="FAKE")
    write_chunk(lake, "p00-c0000", first, extra={"nofaceaaaa.mp4": OutcomeStatus.NO_FACE})
    write_chunk(lake, "p01-c0000", second)
    write_chunk(lake, "p02-c0000", make_samples(5, seed=13), commit=False)
    return sorted(s.sample_id for s in first + second)


def test_arrow_dataset_reads_committed_rows(lake: Lake) -> None:
    expected = _lake_with_orphans(lake)
    dataset = lake.to_arrow_dataset()
    table = dataset.to_table(columns=["sample_id", "label"])
    assert sorted(table.column("sample_id").to_pylist()) == expected
    assert table.num_rows == lake_status(lake)["samples"]
    fakes = dataset.to_table(columns=["sample_id"], filter=pc.field("label") == "FAKE")
    assert fakes.num_rows == 3


def _hf_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hugging Face offline mode: any attempt to reach the Hub (or copy a remote file) raises.

    ``datasets`` reads the variables when first imported, so its flag is set too."""
    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def test_hf_dataset_reads_committed_rows_offline(lake: Lake, tmp_path, monkeypatch) -> None:
    """Local: a cached ``Dataset``; S3: offline mode copies nothing, so the rows stream in place."""
    _hf_offline(monkeypatch)
    expected = _lake_with_orphans(lake)
    dataset = lake.to_hf_dataset(cache_dir=str(tmp_path / "hf-cache"), streaming=not lake.is_local)
    rows = list(dataset)
    assert sorted(row["sample_id"] for row in rows) == expected
    assert rows[0]["crops_jpeg"][0][:2] == b"\xff\xd8" and len(rows[0]["det_scores"]) == 3
    if lake.is_local:
        assert len(dataset) == lake_status(lake)["samples"]


@pytest.mark.s3
def test_hf_dataset_copies_s3_shards_without_the_hub(s3_lake_url, tmp_path, monkeypatch) -> None:
    """Not offline, an S3 lake's shards are copied into the cache; the Hub is never needed (this
    machine cannot reach it). Offline, the copy is refused with the way out."""
    lake = Lake.open(s3_lake_url)
    expected = _lake_with_orphans(lake)
    dataset = lake.to_hf_dataset(columns=["sample_id", "label"], cache_dir=str(tmp_path / "hf-cache"))
    assert sorted(dataset["sample_id"]) == expected and dataset.column_names == ["sample_id", "label"]
    _hf_offline(monkeypatch)
    with pytest.raises(ValueError, match="streaming=True"):
        lake.to_hf_dataset(cache_dir=str(tmp_path / "hf-cache-2"))


def test_hf_dataset_of_an_empty_lake_is_empty(tmp_path) -> None:
    dataset = Lake.open(str(tmp_path / "nothing")).to_hf_dataset(columns=["sample_id"])
    assert len(dataset) == 0 and dataset.column_names == ["sample_id"]


@pytest.mark.ray
@pytest.mark.slow
def test_ray_dataset_reads_committed_rows(lake: Lake, ray_session) -> None:
    expected = _lake_with_orphans(lake)
    dataset = lake.to_ray_dataset(columns=["sample_id", "label"])
    assert sorted(row["sample_id"] for row in dataset.take_all()) == expected
    assert dataset.count() == lake_status(lake)["samples"]


def test_stock_webdataset_reads_the_handles_shard_urls(lake: Lake, monkeypatch) -> None:
    """``wds.WebDataset(lake.shard_urls("webdataset"))`` as a user writes it; for ``s3://`` URLs
    webdataset's own extension point (``gopen_schemes``) is given the lake's fsspec filesystem."""
    import importlib

    import webdataset as wds

    gopen = importlib.import_module(
        "webdataset.gopen"
    )  # the module (the package exports a function of that name)
    expected = _lake_with_orphans(lake)
    filesystem, _ = lake.fsspec_filesystem()
    monkeypatch.setitem(
        gopen.gopen_schemes, "s3", lambda url, mode="rb", bufsize=8192, **kw: filesystem.open(url, mode)
    )
    urls = lake.shard_urls("webdataset")
    samples = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    assert sorted(s["__key__"] for s in samples) == expected
    assert all(s["000.jpg"][:2] == b"\xff\xd8" for s in samples)
