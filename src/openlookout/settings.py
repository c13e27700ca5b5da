"""One settings object, read from command-line flags and ``OPENLOOKOUT_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "OPENLOOKOUT_"


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start. Defaults give the embedded single-machine setup."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    # SQLAlchemy URL; empty means SQLite at <data_dir>/openlookout.db (WAL mode).
    database_url: str = ""
    # S3-compatible endpoint for s3:// references (empty: boto3's default resolution).
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    # Where the service keeps its own copies of images and masks: a local folder under data_dir
    # by default, or "s3://bucket/prefix" on the S3 endpoint.
    blob_url: str = ""
    # Local folders that file:// and relative manifest references may read from.
    allow_local_roots: tuple[Path, ...] = ()
    # Number of in-process job worker threads.
    workers: int = 2
    default_account_id: str = "000000000000"
    default_region: str = "us-east-1"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openlookout.db').resolve()}"

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or (self.data_dir / "blobs").resolve().as_uri()

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values applied (flags override the environment)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(ENV_PREFIX + item.name.upper())
            if raw is None or item.name == "extra":
                continue
            values[item.name] = _convert(item.name, raw)
        return cls(**values)


def _convert(name: str, raw: str) -> Any:
    if name in ("port", "workers"):
        return int(raw)
    if name == "data_dir":
        return Path(raw)
    if name == "allow_local_roots":
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    return raw
