"""Repository functions for trial detections: ``trial_runs`` and their ``trial_images``.

An image row is *pending* until the trial job has looked at it: then it holds either ``error``
(why it could not be judged) or the prediction (``is_anomalous``, ``confidence``, optionally
``mask_sha256``). ``verdict`` is the reviewer's label and ``added_to`` the dataset it went to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, select, update

from openlookout.store.tables import trial_images, trial_runs


@dataclass(frozen=True)
class TrialCounts:
    """How far a trial got and how much of it was reviewed."""

    total: int = 0
    checked: int = 0
    errors: int = 0
    anomalous: int = 0
    reviewed: int = 0
    added: int = 0
    # Verified (verdict given), not yet added and judged without error: what an add would send.
    ready_to_add: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.checked


@dataclass(frozen=True)
class TrialRow:
    """One trial detection run with its counts."""

    id: int
    project_id: int
    name: str
    model_version: int
    source_uri: str
    status: str
    status_message: str | None
    created_at: float
    updated_at: float
    counts: TrialCounts


@dataclass(frozen=True)
class TrialImageRow:
    """One image of a trial: where it came from, the prediction and the reviewer's verdict."""

    id: int
    trial_id: int
    source_ref: str
    image_sha256: str | None
    error: str | None
    is_anomalous: bool | None
    confidence: float | None
    mask_sha256: str | None
    verdict: str | None
    added_to: str | None
    updated_at: float

    @property
    def checked(self) -> bool:
        return self.error is not None or self.is_anomalous is not None

    @property
    def predicted(self) -> str | None:
        """``anomaly`` / ``normal`` as predicted, None while pending or after an error."""
        if self.is_anomalous is None:
            return None
        return "anomaly" if self.is_anomalous else "normal"


_CHECKED = (trial_images.c.error.is_not(None)) | (trial_images.c.is_anomalous.is_not(None))


def _image(r: Any) -> TrialImageRow:
    return TrialImageRow(
        id=r.id,
        trial_id=r.trial_id,
        source_ref=r.source_ref,
        image_sha256=r.image_sha256,
        error=r.error,
        is_anomalous=None if r.is_anomalous is None else bool(r.is_anomalous),
        confidence=None if r.confidence is None else float(r.confidence),
        mask_sha256=r.mask_sha256,
        verdict=r.verdict,
        added_to=r.added_to,
        updated_at=float(r.updated_at),
    )


def _counts_query(trial_ids: list[int]) -> Any:
    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    c = trial_images.c
    return (
        select(
            c.trial_id,
            func.count().label("total"),
            total(_CHECKED).label("checked"),
            total(c.error.is_not(None)).label("errors"),
            total(c.is_anomalous.is_(True)).label("anomalous"),
            total(c.verdict.is_not(None)).label("reviewed"),
            total(c.added_to.is_not(None)).label("added"),
            total(and_(c.verdict.is_not(None), c.added_to.is_(None), c.error.is_(None))).label("ready"),
        )
        .where(c.trial_id.in_(trial_ids))
        .group_by(c.trial_id)
    )


def _counts(conn: Connection, trial_ids: list[int]) -> dict[int, TrialCounts]:
    if not trial_ids:
        return {}
    return {
        int(r.trial_id): TrialCounts(
            total=int(r.total),
            checked=int(r.checked),
            errors=int(r.errors),
            anomalous=int(r.anomalous),
            reviewed=int(r.reviewed),
            added=int(r.added),
            ready_to_add=int(r.ready),
        )
        for r in conn.execute(_counts_query(trial_ids))
    }


def _trial(r: Any, counts: TrialCounts) -> TrialRow:
    return TrialRow(
        id=r.id,
        project_id=r.project_id,
        name=r.name,
        model_version=r.model_version,
        source_uri=r.source_uri,
        status=r.status,
        status_message=r.status_message,
        created_at=float(r.created_at),
        updated_at=float(r.updated_at),
        counts=counts,
    )


# --- runs -----------------------------------------------------------------------------------


def insert_trial(
    conn: Connection,
    *,
    project_id: int,
    name: str,
    model_version: int,
    source_uri: str,
    source_refs: list[str],
    status: str,
    now: float,
) -> int:
    """A trial in ``status`` with one pending image row per reference; its id."""
    result = conn.execute(
        trial_runs.insert().values(
            project_id=project_id,
            name=name,
            model_version=model_version,
            source_uri=source_uri,
            status=status,
            status_message=f"Waiting to check {len(source_refs)} images.",
            created_at=now,
            updated_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    trial_id = int(key[0])
    if source_refs:
        conn.execute(
            trial_images.insert(),
            [{"trial_id": trial_id, "source_ref": ref, "updated_at": now} for ref in source_refs],
        )
    return trial_id


def get_trial(conn: Connection, trial_id: int, project_id: int | None = None) -> TrialRow | None:
    """The trial (of ``project_id`` when given) with its counts, or None."""
    query = select(trial_runs).where(trial_runs.c.id == trial_id)
    if project_id is not None:
        query = query.where(trial_runs.c.project_id == project_id)
    r = conn.execute(query).first()
    if r is None:
        return None
    return _trial(r, _counts(conn, [trial_id]).get(trial_id, TrialCounts()))


def project_trials(conn: Connection, project_id: int) -> list[TrialRow]:
    """The project's trials, newest first, with their counts."""
    rows = list(
        conn.execute(
            select(trial_runs).where(trial_runs.c.project_id == project_id).order_by(trial_runs.c.id.desc())
        )
    )
    counts = _counts(conn, [int(r.id) for r in rows])
    return [_trial(r, counts.get(int(r.id), TrialCounts())) for r in rows]


def set_trial_status(
    conn: Connection,
    trial_id: int,
    *,
    status: str | None = None,
    message: str | None,
    now: float,
    expect_status: str | None,
) -> bool:
    """Change the status (when given) and message, only from ``expect_status`` when given."""
    query = update(trial_runs).where(trial_runs.c.id == trial_id)
    if expect_status is not None:
        query = query.where(trial_runs.c.status == expect_status)
    values: dict[str, Any] = {"status_message": message, "updated_at": now}
    if status is not None:
        values["status"] = status
    return conn.execute(query.values(**values)).rowcount > 0


# --- images ---------------------------------------------------------------------------------


def pending_images(conn: Connection, trial_id: int) -> list[TrialImageRow]:
    """The images the trial job has not looked at yet, in listing order."""
    rows = conn.execute(
        select(trial_images).where(trial_images.c.trial_id == trial_id, ~_CHECKED).order_by(trial_images.c.id)
    )
    return [_image(r) for r in rows]


def record_error(
    conn: Connection, image_id: int, error: str, *, image_sha256: str | None, now: float
) -> None:
    conn.execute(
        update(trial_images)
        .where(trial_images.c.id == image_id)
        .values(error=error, image_sha256=image_sha256, updated_at=now)
    )


def record_prediction(
    conn: Connection,
    image_id: int,
    *,
    image_sha256: str,
    is_anomalous: bool,
    confidence: float,
    mask_sha256: str | None,
    now: float,
) -> None:
    conn.execute(
        update(trial_images)
        .where(trial_images.c.id == image_id)
        .values(
            image_sha256=image_sha256,
            is_anomalous=is_anomalous,
            confidence=confidence,
            mask_sha256=mask_sha256,
            error=None,
            updated_at=now,
        )
    )


def get_image(conn: Connection, trial_id: int, image_id: int) -> TrialImageRow | None:
    r = conn.execute(
        select(trial_images).where(trial_images.c.trial_id == trial_id, trial_images.c.id == image_id)
    ).first()
    return _image(r) if r is not None else None


def count_images(conn: Connection, trial_id: int, *, unreviewed_only: bool = False) -> int:
    query = select(func.count()).select_from(trial_images).where(trial_images.c.trial_id == trial_id)
    if unreviewed_only:
        query = query.where(trial_images.c.verdict.is_(None))
    return int(conn.execute(query).scalar() or 0)


def page_images(
    conn: Connection,
    trial_id: int,
    *,
    offset: int,
    limit: int,
    unreviewed_only: bool = False,
    anomalous_first: bool = False,
) -> list[TrialImageRow]:
    """One page of a trial's images in listing order, or anomalous predictions first (surest first)."""
    c = trial_images.c
    query = select(trial_images).where(c.trial_id == trial_id)
    if unreviewed_only:
        query = query.where(c.verdict.is_(None))
    if anomalous_first:
        rank = case((c.is_anomalous.is_(True), 0), (c.is_anomalous.is_(False), 1), else_=2)
        query = query.order_by(rank, func.coalesce(c.confidence, 0.0).desc(), c.id)
    else:
        query = query.order_by(c.id)
    return [_image(r) for r in conn.execute(query.offset(offset).limit(limit))]


def set_verdict(conn: Connection, image_id: int, verdict: str, *, now: float) -> None:
    conn.execute(
        update(trial_images).where(trial_images.c.id == image_id).values(verdict=verdict, updated_at=now)
    )


def images_to_add(conn: Connection, trial_id: int) -> list[TrialImageRow]:
    """Verified images judged without error and not added to a dataset yet, in listing order."""
    c = trial_images.c
    rows = conn.execute(
        select(trial_images)
        .where(c.trial_id == trial_id, c.verdict.is_not(None), c.added_to.is_(None), c.error.is_(None))
        .order_by(c.id)
    )
    return [_image(r) for r in rows]


def mark_added(conn: Connection, image_ids: list[int], dataset_type: str, *, now: float) -> None:
    if not image_ids:
        return
    conn.execute(
        update(trial_images)
        .where(trial_images.c.id.in_(image_ids), trial_images.c.added_to.is_(None))
        .values(added_to=dataset_type, updated_at=now)
    )
