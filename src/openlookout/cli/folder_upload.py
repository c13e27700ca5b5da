"""Upload a local folder of images, one request per image, through the extension upload route.

Labels come from the immediate sub-folder: ``normal/`` or ``anomaly/`` (any letter case). Images
anywhere else, or every image with ``labeled=False``, are uploaded unlabeled. Per-file rejections
are collected, never fatal; only an unreachable server stops the upload.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from openlookout.cli.api import ApiClient
from openlookout.cli.errors import ApiError, CliError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
LABEL_FOLDERS = ("normal", "anomaly")
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass(frozen=True)
class LocalImage:
    path: Path
    relative: str
    label: str | None


@dataclass
class UploadReport:
    imported: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def find_images(folder: Path, *, labeled: bool) -> list[LocalImage]:
    """Every PNG/JPEG file under ``folder`` (by extension; the server checks the content)."""
    if not folder.is_dir():
        raise CliError(f"{folder}: not a folder")
    found: list[LocalImage] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        found.append(LocalImage(path, relative.as_posix(), _label_of(relative) if labeled else None))
    return found


def _label_of(relative: Path) -> str | None:
    if len(relative.parts) < 2:
        return None
    top = relative.parts[0].lower()
    return top if top in LABEL_FOLDERS else None


def upload_one(api: ApiClient, project: str, dataset_type: str, image: LocalImage) -> str:
    """Upload one file; returns the entry's source-ref."""
    query = {"name": image.path.name}
    if image.label is not None:
        query["label"] = image.label
    result = api.extension(
        "POST",
        ["projects", project, "datasets", dataset_type, "images"],
        query=query,
        body=image.path.read_bytes(),
        content_type=CONTENT_TYPES.get(image.path.suffix.lower(), "application/octet-stream"),
    )
    return str(result.get("SourceRef", ""))


def upload_images(
    api: ApiClient,
    project: str,
    dataset_type: str,
    images: list[LocalImage],
    *,
    parallel: int = 4,
    on_done: Callable[[LocalImage, str | None], None] | None = None,
) -> UploadReport:
    """Upload all images with a few parallel requests; ``on_done(image, error)`` after each."""
    report = UploadReport()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {pool.submit(upload_one, api, project, dataset_type, image): image for image in images}
        try:
            for future in as_completed(futures):
                image = futures[future]
                error = _rejection(future.exception())
                if error is None:
                    report.imported.append(future.result())
                else:
                    report.rejected.append((image.relative, error))
                if on_done is not None:
                    on_done(image, error)
        except BaseException:
            for pending in futures:
                pending.cancel()
            raise
    report.rejected.sort()
    return report


def _rejection(exc: BaseException | None) -> str | None:
    """The per-file reason, or re-raise what must stop the whole upload."""
    if exc is None:
        return None
    if isinstance(exc, ApiError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    raise exc
