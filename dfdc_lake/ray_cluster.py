"""Joining a Ray cluster (or starting a local one): one helper for ingest and training alike.

Ingest (``ingest/``) and training (``train/``) both stand on the lake and both call
:func:`connect_ray`; neither imports the other for it.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from pathlib import Path

__all__ = ["connect_ray", "use_token_auth_if_present"]

log = logging.getLogger(__name__)


def use_token_auth_if_present() -> None:
    """Use Ray's token auth when this machine has a token, before anything imports ray.

    Ray 2.60 reads the mode at import: a new local cluster turns token auth on by default, and
    ``ray start --head`` does when ~/.ray/auth_token exists, but a client joining a cluster sends the
    token only in token mode. A cluster without auth accepts a token-mode client too.
    """
    if "RAY_AUTH_MODE" not in os.environ and (Path.home() / ".ray" / "auth_token").exists():
        os.environ["RAY_AUTH_MODE"] = "token"


def _live_local_cluster() -> str | None:
    """The address of a cluster started with ``ray start`` on this machine, if its GCS still answers.

    Ray records the latest one in ``<temp dir>/ray_current_cluster``; a stale record (the cluster has
    stopped) would make ``ray.init`` wait on a dead address, so it is probed first.
    """
    record = Path(os.environ.get("RAY_TMPDIR", tempfile.gettempdir())) / "ray" / "ray_current_cluster"
    try:
        address = record.read_text().strip().splitlines()[0]
        host, port = address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=1.0):
            return address
    except (OSError, ValueError, IndexError):
        return None


def connect_ray(address: str | None = None) -> None:
    """Join a Ray cluster, or start a local one.

    ``address`` (or ``RAY_ADDRESS``, set by ``ray job submit``) names the cluster; without either, a live
    cluster started with ``ray start`` on this machine is joined (what ``ray submit`` relies on, on the
    head node), else a local Ray is started. ``address="local"`` always starts a private one.
    """
    import ray

    if ray.is_initialized():
        return
    target = address or os.environ.get("RAY_ADDRESS") or _live_local_cluster() or "local"
    log.info("ray: %s", "starting a local cluster" if target == "local" else f"joining {target}")
    if target != "local":
        use_token_auth_if_present()
    ray.init(address=target, logging_level=logging.WARNING)
