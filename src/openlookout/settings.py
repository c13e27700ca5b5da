"""One settings object, read from command-line flags and ``OPENLOOKOUT_*`` environment variables.

Every knob of the server is a typed field here, so nothing else reads the environment: the
environment variable of a field is ``OPENLOOKOUT_`` plus its name in upper case
(``OPENLOOKOUT_TRAINING_PRESET``), converted to the field's type.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, fields, replace
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
    # S3-compatible endpoint for s3:// references and model outputs (empty: boto3's default).
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
    # Signs pagination tokens; empty: a random secret made once and kept in the database.
    paging_secret: str = ""
    # Who may call (docs/security.md): the CSV file of access keys (empty: no authentication, and
    # then only a loopback address unless insecure_no_auth), more host names the server answers to
    # besides its bind address and the loopback names, and the S3 buckets (and prefixes) each
    # account may use, as ACCOUNT=BUCKET[/PREFIX] (with keys, an account reaches no other bucket).
    credentials_file: str = ""
    insecure_no_auth: bool = False
    allowed_hosts: tuple[str, ...] = ()
    s3_allow: tuple[str, ...] = ()
    # Training: a preset of openlookout.ml.PRESETS (empty: the detector's default), the working
    # long side in pixels (a multiple of 32; 0: the detector's default), torch threads (0: up to 4).
    training_preset: str = ""
    training_image_size: int = 0
    training_threads: int = 0
    # Hosting: onnxruntime threads per inference unit (0: the cores shared by the units) and the
    # most inference units one model may ask for.
    inference_threads: int = 0
    max_inference_units: int = 8
    # Trial detection: onnxruntime threads (0: up to 2).
    trial_threads: int = 0
    # Bounded resources (docs/limits.md): seconds a client may take to send a request's headers
    # and its body; open connections at once; inference units across every hosted model (0: from
    # the cores and memory); the seconds of work a model's DetectAnomalies queue may hold before
    # new requests are shed with ThrottlingException.
    header_timeout_s: int = 10
    body_timeout_s: int = 60
    max_connections: int = 1000
    server_inference_units: int = 0
    detect_queue_s: float = 3.0
    # Storage: free bytes an import or upload must leave on the data and blob disks; the blob
    # collector's period (0: never runs on its own) and the age an unreferenced blob must reach.
    min_free_bytes: int = 256 * 1024 * 1024
    gc_interval_s: int = 3600
    gc_grace_s: int = 3600
    # Where trainings and inference units run (docs/scale-out.md): "local" (this server) or "ray"
    # (the Ray cluster at ray_address: "auto", "ray://head:10001" or "head:6379"), inside the Ray
    # namespace ray_namespace. The ray engine refuses a blob folder on local disk unless
    # ray_shared_blob_dir says every node mounts it at the same path. A Ray training asks for
    # ray_training_cpus CPUs and ray_training_gpus GPUs (-1: one when the cluster has GPUs); an
    # inference unit (a Ray Serve replica) for ray_unit_cpus CPUs.
    engine: str = "local"
    ray_address: str = ""
    ray_namespace: str = "openlookout"
    ray_shared_blob_dir: bool = False
    ray_training_cpus: float = 2.0
    ray_training_gpus: float = -1.0
    ray_unit_cpus: float = 1.0
    # GET /metrics (Prometheus): open without a credentials file; with one, a scraper must send
    # "Authorization: Bearer <metrics_token>" (empty: /metrics is refused).
    metrics_token: str = ""
    # Knobs given by name (``Settings(extra={"training_preset": "fast"})``): each must name a
    # field above and is converted like its environment variable. Nothing reads it afterwards.
    extra: InitVar[Mapping[str, Any] | None] = None

    def __post_init__(self, extra: Mapping[str, Any] | None) -> None:
        for name, value in (extra or {}).items():
            if name not in _FIELD_TYPES:
                raise TypeError(f"unknown setting {name!r}")
            object.__setattr__(self, name, _convert(name, value) if isinstance(value, str) else value)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openlookout.db').resolve()}"

    @property
    def authenticates(self) -> bool:
        """True when requests must be signed with keys of the credentials file."""
        return bool(self.credentials_file)

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or (self.data_dir / "blobs").resolve().as_uri()

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values applied (flags override the environment)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in _FIELD_TYPES:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = _convert(name, raw)
        return cls(**values)


_FIELD_TYPES: dict[str, str] = {item.name: str(item.type) for item in fields(Settings)}


def _convert(name: str, raw: str) -> Any:
    """The text of setting ``name`` (an environment variable) as the field's type."""
    kind = _FIELD_TYPES[name]
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "Path":
        return Path(raw)
    if kind == "tuple[Path, ...]":
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "tuple[str, ...]":
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return raw
