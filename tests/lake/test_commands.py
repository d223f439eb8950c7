"""The status / verify / gc commands, and that no secret ever leaves through them or the lake."""

from __future__ import annotations

import json
import logging

import pytest

from dfdc_lake.cli import commands as cli
from dfdc_lake.lake.commit import commit_chunk
from dfdc_lake.lake.lake import Lake, open_storage
from dfdc_lake.lake.lock import LakeLock
from dfdc_lake.lake.storage import Storage
from dfdc_lake.records import OutcomeStatus

from .fakes import make_samples, run_record, write_chunk

LAKE_MODULES = {"dfdc_lake.cli.status", "dfdc_lake.cli.verify", "dfdc_lake.cli.gc"}


@pytest.fixture(autouse=True)
def only_lake_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``dfdc-lake`` entry point, with only this package's commands (the others are not ours)."""
    mine = {name: entry for name, entry in cli.COMMANDS.items() if entry[0] in LAKE_MODULES}
    assert sorted(mine) == ["gc", "status", "verify"]
    monkeypatch.setattr(cli, "COMMANDS", mine)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_status_verify_gc(storage: Storage, lake_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    record = write_chunk(
        storage, "p00-c0000", make_samples(3), extra={"nofaceaaaa.mp4": OutcomeStatus.NO_FACE}
    )
    orphan = write_chunk(storage, "p00-c0001", make_samples(1, seed=9), commit=False).shards[0].path

    code, out = run_cli(capsys, "status", lake_url)
    assert (
        code == 0
        and "chunks committed: 1" in out
        and "no_face 1, ok 3" in out
        and "samples:          3" in out
    )
    code, out = run_cli(capsys, "status", lake_url, "--json")
    assert code == 0 and json.loads(out)["samples"] == 3

    code, out = run_cli(capsys, "verify", lake_url)
    assert code == 0 and out.rstrip().endswith("OK") and "orphaned" in out
    code, out = run_cli(capsys, "verify", lake_url, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and orphan in report["orphans"]

    code, out = run_cli(capsys, "gc", lake_url)
    assert code == 0 and f"would delete {orphan}" in out and storage.exists(orphan)
    code, out = run_cli(capsys, "gc", lake_url, "--delete", "--json")
    assert code == 0 and orphan in json.loads(out)["paths"] and not storage.exists(orphan)

    storage.delete(record.shards[0].path)
    code, out = run_cli(capsys, "verify", lake_url)
    assert code == 1 and f"PROBLEM missing_shard: {record.shards[0].path}" in out


def test_gc_delete_while_locked_is_an_error(
    storage: Storage, lake_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with LakeLock(storage, owner="ingest-7", heartbeat_s=0):
        code, out = run_cli(capsys, "gc", lake_url, "--delete")
    assert code == 2 and "ingest-7" in out


@pytest.mark.s3
def test_the_secret_never_leaves(
    s3_lake_url: str, s3_env, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    secret = s3_env.secret_key
    caplog.set_level(logging.DEBUG)
    storage = open_storage(s3_lake_url)
    # a stage error message and a run payload that (wrongly) carry the secret must still not leak it
    record = write_chunk(
        storage, "p00-c0000", make_samples(2), extra={"brokenaaaa.mp4": OutcomeStatus.ERROR}, commit=False
    )
    next(
        o for o in record.outcomes if o.status is OutcomeStatus.ERROR
    ).reason = f"OSError: denied for key {secret}"
    commit_chunk(storage, record)
    raw = json.loads(storage.read_bytes("commits/p00-c0000.json"))
    assert (
        next(o for o in raw["outcomes"] if o["status"] == "error")["reason"] == "OSError: denied for key ***"
    )
    run = run_record("run-1", "2026-01-01T00:00:00Z", ["p00-c0000"])
    Lake(storage).write_run(run.model_copy(update={"source": f"--key {secret} env secret={secret}"}))
    with LakeLock(storage, owner="ingest", heartbeat_s=0):
        outputs = [
            run_cli(capsys, *argv)[1] for argv in (["status", s3_lake_url], ["status", s3_lake_url, "--json"])
        ]
    write_chunk(storage, "p00-c0001", make_samples(1, seed=3), commit=False)
    for argv in (
        ["verify", s3_lake_url],
        ["verify", s3_lake_url, "--json"],
        ["gc", s3_lake_url],
        ["gc", s3_lake_url, "--delete"],
    ):
        outputs.append(run_cli(capsys, *argv)[1])
    storage.delete(raw["shards"][0]["path"])  # a failing verify prints problems too
    outputs.append(run_cli(capsys, "verify", s3_lake_url)[1])
    assert all(secret not in text for text in outputs)
    assert secret not in caplog.text
    fs = s3_env.filesystem()
    bucket = s3_lake_url.removeprefix("s3://").split("/")[0]
    objects = fs.find(bucket)
    assert any(key.endswith("runs/run-1.json") for key in objects)
    for key in objects:
        assert secret.encode() not in fs.cat_file(key), key
