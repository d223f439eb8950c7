"""Ingest from and to a real S3 server (SeaweedFS), status and verify on it, and credential hygiene."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ingest.helpers import assert_accounted_once, ingest_command

pytestmark = [pytest.mark.s3, pytest.mark.ray, pytest.mark.slow]

CLI = [sys.executable, "-m", "dfdc_lake.cli"]


def test_s3_source_to_s3_lake_with_status_verify_and_no_secret_anywhere(
    tiny_corpus, ray_cluster, s3_env, s3_lake_url
):
    fs = s3_env.filesystem()
    bucket = s3_lake_url.split("/")[2]
    fs.put(str(tiny_corpus / "dfdc_train_part_1"), f"{bucket}/dfdc/", recursive=True)
    source = f"s3://{bucket}/dfdc"
    env = dict(os.environ)
    ingest = subprocess.run(
        ingest_command(source, s3_lake_url, ray_cluster.address),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert_accounted_once(source, s3_lake_url)
    status = subprocess.run(
        [*CLI, "status", s3_lake_url], capture_output=True, text=True, env=env, timeout=120
    )
    verify = subprocess.run(
        [*CLI, "verify", s3_lake_url], capture_output=True, text=True, env=env, timeout=300
    )
    assert status.returncode == 0, status.stderr
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "committed" in status.stdout
    texts = [ingest.stdout, ingest.stderr, status.stdout, status.stderr, verify.stdout, verify.stderr]
    lake_key = s3_lake_url.removeprefix("s3://")
    texts += [fs.cat_file(path).decode() for path in fs.find(lake_key) if path.endswith(".json")]
    assert len(texts) > 6  # commit records, run records and lake.json were read
    leaks = [text[:200] for text in texts if s3_env.secret_key in text]
    assert leaks == []


def test_wrong_credentials_give_a_clear_error_naming_the_endpoint(tiny_corpus, s3_env, s3_lake_url, tmp_path):
    wrong = "wrong-" + s3_env.secret_key[::-1]
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": wrong}
    result = subprocess.run(
        [*CLI, "ingest", str(tiny_corpus / "dfdc_train_part_0"), s3_lake_url, "--address", "local"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert s3_env.endpoint_url in result.stderr
    assert "Traceback" not in result.stderr
    assert wrong not in result.stderr and s3_env.secret_key not in result.stderr


def test_local_lake_permission_denied_is_a_clear_error(tiny_corpus, tmp_path):
    if os.geteuid() == 0:
        # root ignores directory permissions: use a path under a regular file instead (ENOTDIR).
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        lake = blocker / "lake"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        lake = locked / "lake"
    result = subprocess.run(
        [*CLI, "ingest", str(tiny_corpus / "dfdc_train_part_0"), str(lake), "--address", "local"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert str(Path(lake).parent) in result.stderr or str(lake) in result.stderr
