"""S3 endpoint and credentials from the standard AWS environment, and redaction of secrets.

The source reader and the lake both build their fsspec storage options here, so every secret either of
them reads is registered for redaction. Credentials never come from the command line or config files:
they come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``) or
``AWS_PROFILE``, the endpoint from ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (unset: AWS itself),
the region from ``AWS_REGION`` or ``AWS_DEFAULT_REGION``. Every secret seen here is registered with
:func:`redact`, which every error message, log line, status report and record passes through.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["S3_PROTOCOLS", "S3Settings", "redact", "register_secret", "storage_options_for"]

S3_PROTOCOLS = ("s3", "s3a")
"""URL schemes served by s3fs."""

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_MIN_SECRET_LEN = 4
_SECRET_ENV_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# key=value or "key": "value" spellings of secrets that were never registered (belt and braces).
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)(aws_secret_access_key|secret_access_key|secret_key|aws_session_token|session_token)"
    r"(\"?\s*[:=]\s*\"?)([^\s\"',}]+)"
)


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` removes it from any text."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every configured secret (AWS secret key, session token) replaced by ``***``."""
    for name in _SECRET_ENV_VARS:
        register_secret(os.environ.get(name))
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


@functools.lru_cache(maxsize=16)
def _register_profile_secrets(profile: str | None, credentials_file: str) -> None:
    """The secret lives in the shared credentials file: resolve it (no network) only to hide it."""
    del credentials_file  # part of the cache key only
    import botocore.session

    try:
        credentials = botocore.session.Session(profile=profile).get_credentials()
    except Exception as err:  # botocore raises many types for a broken profile; redaction must not fail
        logging.getLogger(__name__).debug(
            "could not resolve profile %r for redaction: %s", profile, type(err).__name__
        )
        return
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        register_secret(frozen.secret_key)
        register_secret(frozen.token)


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


@dataclass(frozen=True)
class S3Settings:
    """Where the S3 API is and who we are to it. Secrets are kept out of ``repr``."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> S3Settings:
        """Read the standard AWS variables (empty values count as unset)."""
        env = os.environ if environ is None else environ

        def get(*names: str) -> str | None:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return value
            return None

        settings = cls(
            endpoint_url=get("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
            region=get("AWS_REGION", "AWS_DEFAULT_REGION"),
            access_key_id=get("AWS_ACCESS_KEY_ID"),
            secret_access_key=get("AWS_SECRET_ACCESS_KEY"),
            session_token=get("AWS_SESSION_TOKEN"),
            profile=get("AWS_PROFILE"),
        )
        settings.register_secrets()
        return settings

    def register_secrets(self) -> None:
        """Register this configuration's secrets for redaction, including a profile's keys."""
        register_secret(self.secret_access_key)
        register_secret(self.session_token)
        path = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser()
        if self.secret_access_key is None and (self.profile is not None or path.is_file()):
            _register_profile_secrets(self.profile, str(path))

    @property
    def endpoint_label(self) -> str:
        """The endpoint as it may appear in messages (never with user info)."""
        if self.endpoint_url:
            return _strip_userinfo(self.endpoint_url)
        return f"AWS S3 (region {self.region or 'default'})"

    @property
    def access_key_hint(self) -> str:
        """The access key id shortened for messages, e.g. ``AKIA…`` (the id is not secret, but short is enough)."""
        if not self.access_key_id:
            return "from profile" if self.profile else "none set"
        return self.access_key_id[:4] + "…"

    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem`` / fsspec ``storage_options`` (contain the secret)."""
        options: dict[str, Any] = {}
        if self.access_key_id and self.secret_access_key:
            options["key"] = self.access_key_id
            options["secret"] = self.secret_access_key
            if self.session_token:
                options["token"] = self.session_token
        elif self.profile:
            options["profile"] = self.profile
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if self.region:
            options["client_kwargs"] = {"region_name": self.region}
        options["config_kwargs"] = {
            "connect_timeout": self.connect_timeout_s,
            "read_timeout": self.read_timeout_s,
        }
        return options


def storage_options_for(url: str | os.PathLike[str]) -> dict[str, Any]:
    """fsspec ``storage_options`` for a (non-chained) URL: the S3 endpoint and credentials, ``{}`` otherwise.

    The result contains the secret key: hand it to a client, never print it.
    """
    protocol, sep, _ = os.fspath(url).partition("://")
    if sep and protocol in S3_PROTOCOLS:
        return S3Settings.from_env().storage_options()
    return {}
