"""The lake's own tar reader: the same samples as webdataset's iterators, GNU/PAX/USTAR names, and a
clear error for a damaged shard."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from webdataset.tariterators import group_by_keys, tar_file_iterator

from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.tar_stream import iter_tar_members, iter_tar_samples

from .fakes import make_samples, rows_equal, stock_webdataset_rows, write_chunk


def _tar(members: list[tuple[str, bytes]], fmt: int = tarfile.USTAR_FORMAT, extra: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        if extra:  # members a WebDataset reader skips
            folder = tarfile.TarInfo("folder")
            folder.type = tarfile.DIRTYPE
            tar.addfile(folder)
            link = tarfile.TarInfo("folder/link.jpg")
            link.type, link.linkname = tarfile.SYMTYPE, "elsewhere"
            tar.addfile(link)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("chunk_bytes", [700, 1 << 20])  # refills mid-header and mid-member, or none
def test_lake_shards_read_as_webdataset_reads_them(tmp_path: Path, chunk_bytes: int) -> None:
    lake = str(tmp_path / "lake")
    samples = make_samples(9, seed=3)
    write_chunk(lake, "p00-c0000", samples, formats=("webdataset",), shard_target_bytes=20_000)
    shards = Lake.open(lake).shard_urls("webdataset")
    assert len(shards) > 1
    ours, theirs = [], []
    for shard in shards:
        with open(shard, "rb") as stream:
            members = list(iter_tar_members(stream, chunk_bytes=chunk_bytes))
        with open(shard, "rb") as stream:
            ours += list(iter_tar_samples(stream, shard))
        with open(shard, "rb") as stream:
            listed = list(tar_file_iterator(stream))
            assert members == [(m["fname"], m["data"]) for m in listed]
            theirs += list(group_by_keys({**m, "__url__": shard} for m in listed))
    assert ours == theirs
    assert [s["__key__"] for s in ours] == [s.sample_id for s in samples]
    assert ours[0]["000.jpg"] == samples[0].crops_jpeg[0]


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        (tarfile.GNU_FORMAT, "g" * 150 + ".json"),  # a GNU long-name member before it
        (tarfile.PAX_FORMAT, "p" * 150 + ".lögmel.npy"),  # a PAX path record (long, not ASCII)
        (tarfile.USTAR_FORMAT, "d" * 80 + "/" + "k" * 90 + ".000.jpg"),  # the USTAR prefix field
    ],
)
def test_long_names_in_every_tar_format(fmt: int, name: str) -> None:
    data = _tar([("short.json", b"{}"), (name, b"x" * 1000), ("short.000.jpg", b"")], fmt, extra=True)
    assert list(iter_tar_members(io.BytesIO(data))) == [
        ("short.json", b"{}"),
        (name, b"x" * 1000),
        ("short.000.jpg", b""),
    ]
    folder, _, base = name.rpartition("/")
    stem, _, suffix = base.partition(".")
    key = f"{folder}/{stem}" if folder else stem
    samples = list(iter_tar_samples(io.BytesIO(data), "mem"))
    assert samples == [
        {"__key__": "short", "__url__": "mem", "json": b"{}"},
        {"__key__": key, "__url__": "mem", suffix.lower(): b"x" * 1000},
        {"__key__": "short", "__url__": "mem", "000.jpg": b""},
    ]


def _with_checksum(header: bytearray) -> bytearray:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header[:512])
    return header


def test_a_damaged_shard_raises_with_the_offset() -> None:
    data = _tar([("a.json", b"{}"), ("a.000.jpg", b"j" * 700)])
    bad_header = bytearray(data)
    bad_header[512 * 2 + 10] ^= 0xFF  # inside the second member's name
    with pytest.raises(tarfile.ReadError, match="bad header checksum at byte 1024"):
        list(iter_tar_members(io.BytesIO(bytes(bad_header))))
    with pytest.raises(tarfile.ReadError, match="cut short: member at byte 1024 has 476 of 700 bytes"):
        list(iter_tar_members(io.BytesIO(data[: 512 * 3 + 476])))
    with pytest.raises(tarfile.ReadError, match="inside the header at byte 1024"):
        list(iter_tar_members(io.BytesIO(data[: 512 * 2 + 100])))
    bad_size = bytearray(data)
    bad_size[124:136] = b"zzzzzzzzzzz\0"  # not octal, yet the header's checksum holds
    with pytest.raises(tarfile.ReadError, match="bad numeric field b'zzzzzzzzzzz"):
        list(iter_tar_members(io.BytesIO(bytes(_with_checksum(bad_size)))))
    assert list(iter_tar_members(io.BytesIO(b""))) == []  # an empty stream has no members


def test_a_suffix_twice_in_one_sample_is_refused() -> None:
    data = _tar([("a.json", b"1"), ("A.json", b"2"), ("a.json", b"3")])  # keys keep their case
    assert [s["__key__"] for s in iter_tar_samples(io.BytesIO(data), "mem")] == ["a", "A", "a"]
    with pytest.raises(ValueError, match="repeats suffix 'json' of sample 'a'"):
        list(iter_tar_samples(io.BytesIO(_tar([("a.json", b"1"), ("a.JSON", b"2")])), "mem"))


def test_training_streams_webdataset_rows_from_local_disk_and_s3(lake_url: str) -> None:
    """Training's WebDataset rows (the lake's reader, on a pyarrow stream) equal what ``webdataset`` reads."""
    from dfdc_lake.train.inputs.batches import training_reader

    samples = make_samples(6, seed=4)
    lake = Lake.open(lake_url)
    write_chunk(lake, "p00-c0000", samples, formats=("webdataset",), shard_target_bytes=20_000)
    paths = lake.shard_paths("webdataset")
    assert len(paths) > 1
    ours = list(training_reader(lake.arrow_filesystem()[0], "webdataset").rows(paths))
    theirs = list(stock_webdataset_rows(lake))
    assert [row["sample_id"] for row in ours] == [sample.sample_id for sample in samples]
    assert len(ours) == len(theirs) and all(rows_equal(a, b) for a, b in zip(ours, theirs, strict=True))
