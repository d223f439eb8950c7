"""The storage layer: atomic writes, clear errors (disk full, denied, bad credentials, server down),
the endpoint from the environment, retries of transient errors only, and redaction of secrets."""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dfdc_lake.errors import StorageError
from dfdc_lake.io.retry import RetryPolicy, is_transient
from dfdc_lake.io.s3_settings import S3Settings, redact, storage_options_for
from dfdc_lake.lake.lake import open_storage

from .fakes import make_samples, write_chunk

FAST = RetryPolicy(attempts=3, base_delay_s=0.2, max_delay_s=1.0)


def test_local_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    storage = open_storage(tmp_path / "lake")
    storage.write_bytes("commits/a.json", b"one")
    storage.write_bytes("commits/a.json", b"two")
    assert storage.read_bytes("commits/a.json") == b"two"
    assert os.listdir(tmp_path / "lake" / "commits") == ["a.json"]
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("commits/b.json")
    with pytest.raises(ValueError, match="relative"):
        storage.write_bytes("../outside", b"x")


def test_local_disk_full_is_a_clear_storage_error(tmp_path: Path) -> None:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        with pytest.raises(StorageError, match="no space left on device") as err:
            write_chunk(str(mount_point / "lake"), "p00-c0000", make_samples(30, crop_px=64, frames=6))
        assert str(mount_point) in str(err.value)
        assert isinstance(err.value.__cause__, OSError) and err.value.__cause__.errno == errno.ENOSPC
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


_WRITE_SCRIPT = """
import sys
from dfdc_lake.errors import StorageError
from dfdc_lake.lake.lake import open_storage
try:
    open_storage(sys.argv[1]).write_bytes("commits/x.json", b"{}")
except StorageError as err:
    print("StorageError:", err)
"""


def _drop_dac_capabilities() -> None:
    """In the child, before exec: as root, drop the capabilities that bypass file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_local_permission_denied_is_a_clear_storage_error(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "commits").mkdir(parents=True)
    for path in (lake / "commits", lake):
        path.chmod(0o555)
    try:
        # root ignores mode bits, so as root the write runs in a child without that power
        preexec = _drop_dac_capabilities if os.geteuid() == 0 else None
        result = subprocess.run(
            [sys.executable, "-c", _WRITE_SCRIPT, str(lake)],
            capture_output=True, text=True, check=False, preexec_fn=preexec,
        )  # fmt: skip
        assert result.stdout.startswith("StorageError: permission denied"), result.stdout + result.stderr
        assert str(lake / "commits" / "x.json") in result.stdout
    finally:
        for path in (lake, lake / "commits"):
            path.chmod(0o755)


@pytest.mark.s3
def test_wrong_credentials_name_the_endpoint_not_the_secret(s3_lake_url: str, s3_env, monkeypatch) -> None:
    wrong = "wrong-secret-" + "x" * 20
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    storage = open_storage(s3_lake_url, retry=FAST)
    with pytest.raises(StorageError) as err:
        storage.write_bytes("commits/x.json", b"{}")
    message = str(err.value)
    assert s3_env.endpoint_url in message and "access denied" in message
    assert s3_lake_url in message
    assert wrong not in message and s3_env.secret_key not in message


@pytest.mark.s3
def test_server_down_fails_after_bounded_retries_then_recovers(s3_lake_url: str, s3_server) -> None:
    storage = open_storage(s3_lake_url, retry=FAST)
    storage.write_bytes("commits/x.json", b"before")
    s3_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StorageError) as err:
            storage.read_bytes("commits/x.json")
        elapsed = time.monotonic() - started
        assert 0.5 < elapsed < 15  # slept 0.2 + 0.4 between 3 attempts, then gave up
        assert "after 3 attempts" in str(err.value) and s3_server.endpoint_url in str(err.value)
        assert s3_server.secret_key not in str(err.value)
    finally:
        s3_server.start()
    assert storage.read_bytes("commits/x.json") == b"before"
    storage.write_bytes("commits/x.json", b"after")
    assert storage.read_bytes("commits/x.json") == b"after"


@pytest.mark.s3
def test_endpoint_comes_from_the_environment(s3_lake_url: str, s3_env, monkeypatch) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env.endpoint_url)  # the service-specific one wins
    open_storage(s3_lake_url, retry=FAST).write_bytes("a.json", b"1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    with pytest.raises(StorageError, match=r"127\.0\.0\.1:9\b"):
        open_storage(s3_lake_url, retry=RetryPolicy(attempts=1)).read_bytes("a.json")
    assert storage_options_for(s3_lake_url)["endpoint_url"] == dead


def test_settings_keep_secrets_out_of_repr_and_redact_removes_them() -> None:
    settings = S3Settings.from_env(
        {
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t-value-xyz",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert "s3cr3t" not in repr(settings)
    assert settings.storage_options()["secret"] == "s3cr3t-value-xyz"
    assert redact("boom at s3cr3t-value-xyz!") == "boom at ***!"
    assert "hidden" not in redact('{"aws_secret_access_key": "hidden"}')
    assert settings.endpoint_label == "AWS S3 (region eu-west-1)"
    assert S3Settings(endpoint_url="http://user:pw@host:1").endpoint_label == "http://host:1"


def test_only_transient_errors_are_retried() -> None:
    from botocore.exceptions import ClientError

    def client_error(status: int, code: str) -> ClientError:
        return ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
        )

    assert is_transient(ConnectionRefusedError()) and is_transient(TimeoutError())
    assert is_transient(client_error(503, "SlowDown")) and is_transient(client_error(500, "InternalError"))
    assert not is_transient(client_error(403, "AccessDenied")) and not is_transient(
        client_error(404, "NoSuchKey")
    )
    assert not is_transient(OSError(errno.ENOSPC, "full")) and not is_transient(PermissionError())

    calls: list[float] = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionResetError("reset by peer")
        return "ok"

    assert RetryPolicy(attempts=3, base_delay_s=0.05).call(flaky, "test") == "ok" and len(calls) == 3
    calls.clear()
    with pytest.raises(ConnectionResetError):
        RetryPolicy(attempts=2, base_delay_s=0.01).call(lambda: flaky() and flaky(), "test")

    def denied() -> None:
        calls.append(0.0)
        raise PermissionError("no")

    calls.clear()
    with pytest.raises(PermissionError):
        RetryPolicy(attempts=5, base_delay_s=0.01).call(denied, "test")
    assert len(calls) == 1
    assert [RetryPolicy().delay_s(i) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


@pytest.mark.s3
def test_credentials_from_a_profile_work_and_are_redacted(
    s3_lake_url: str, s3_env, monkeypatch, tmp_path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[lake-tests]\naws_access_key_id = {s3_env.access_key}\naws_secret_access_key = {s3_env.secret_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "lake-tests")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = open_storage(s3_lake_url, retry=FAST)
    storage.write_bytes("p.json", b"via profile")
    assert storage.read_bytes("p.json") == b"via profile"
    assert (
        "secret" not in storage_options_for(s3_lake_url)
        and storage_options_for(s3_lake_url)["profile"] == "lake-tests"
    )
    assert redact(f"x {s3_env.secret_key} y") == "x *** y"


@pytest.mark.s3
def test_shard_upload_during_an_outage_fails_cleanly(
    s3_lake_url: str, s3_server, monkeypatch, tmp_path
) -> None:
    from dfdc_lake.lake.writers import ChunkWriter

    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("DFDC_LAKE_SPOOL_DIR", str(spool))
    storage = open_storage(s3_lake_url, retry=FAST)
    writer = ChunkWriter(storage, "p00-c0000", "a1", shard_target_bytes=1 << 20)
    for sample in make_samples(3):
        writer.write(sample)
    assert len(os.listdir(spool)) == 2  # one staging file per format
    s3_server.stop()
    try:
        with pytest.raises(StorageError, match="unreachable"):
            writer.close()
        writer.abort()
    finally:
        s3_server.start()
    assert os.listdir(spool) == []  # nothing left behind on local disk
    record = write_chunk(storage, "p00-c0000", make_samples(3))  # a new attempt after the outage
    assert storage.read_bytes("commits/p00-c0000.json") and record.num_samples == 3
