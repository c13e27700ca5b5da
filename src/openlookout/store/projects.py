"""Repository functions for projects (and the dataset summaries DescribeProject shows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from openlookout.store.tables import datasets, projects


@dataclass(frozen=True)
class ProjectRow:
    """One project. ``image_width``/``image_height`` are fixed by the first image imported."""

    id: int
    account_id: str
    region: str
    name: str
    arn: str
    created_at: float
    image_width: int | None
    image_height: int | None


@dataclass(frozen=True)
class DatasetSummary:
    """What a project's description lists for each of its datasets."""

    dataset_type: str
    created_at: float
    status: str
    status_message: str | None


def _project(r: Any) -> ProjectRow:
    return ProjectRow(
        id=r.id,
        account_id=r.account_id,
        region=r.region,
        name=r.name,
        arn=r.arn,
        created_at=r.created_at,
        image_width=r.image_width,
        image_height=r.image_height,
    )


def insert_project(
    conn: Connection, *, account_id: str, region: str, name: str, arn: str, created_at: float
) -> ProjectRow:
    """Add a project. A duplicate (account, region, name) raises ``sqlalchemy.exc.IntegrityError``."""
    result = conn.execute(
        projects.insert().values(
            account_id=account_id, region=region, name=name, arn=arn, created_at=created_at
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return ProjectRow(int(key[0]), account_id, region, name, arn, created_at, None, None)


def get_project(conn: Connection, account_id: str, region: str, name: str) -> ProjectRow | None:
    """The project called ``name`` in the scope, or None."""
    r = conn.execute(
        select(projects).where(
            projects.c.account_id == account_id, projects.c.region == region, projects.c.name == name
        )
    ).first()
    return _project(r) if r is not None else None


def get_project_by_id(conn: Connection, project_id: int) -> ProjectRow | None:
    r = conn.execute(select(projects).where(projects.c.id == project_id)).first()
    return _project(r) if r is not None else None


def lock_project(conn: Connection, project_id: int) -> ProjectRow | None:
    """Serialise changes to one project for the rest of the transaction; the project as it is now.

    PostgreSQL: row lock (SELECT ... FOR UPDATE). SQLite: a no-op write takes the database's write
    lock first, so the read that follows (and every later one) sees each committed change and nobody
    writes until we commit. None when the project was deleted meanwhile.
    """
    query = select(projects).where(projects.c.id == project_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    else:
        conn.execute(update(projects).where(projects.c.id == project_id).values(id=projects.c.id))
    r = conn.execute(query).first()
    return _project(r) if r is not None else None


def list_projects(
    conn: Connection, account_id: str, region: str, *, after: tuple[float, str] | None, limit: int
) -> list[ProjectRow]:
    """Up to ``limit`` projects of the scope ordered by (creation time, name), after the key ``after``."""
    query = select(projects).where(projects.c.account_id == account_id, projects.c.region == region)
    if after is not None:
        created_at, name = after
        query = query.where(
            or_(
                projects.c.created_at > created_at,
                and_(projects.c.created_at == created_at, projects.c.name > name),
            )
        )
    query = query.order_by(projects.c.created_at, projects.c.name).limit(limit)
    return [_project(r) for r in conn.execute(query)]


def count_projects(conn: Connection, account_id: str, region: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(projects)
            .where(projects.c.account_id == account_id, projects.c.region == region)
        ).scalar_one()
    )


def project_datasets(conn: Connection, project_id: int) -> list[DatasetSummary]:
    """The project's datasets, train before test."""
    rows = conn.execute(
        select(datasets.c.dataset_type, datasets.c.created_at, datasets.c.status, datasets.c.status_message)
        .where(datasets.c.project_id == project_id)
        .order_by(datasets.c.dataset_type.desc())  # "train" > "test"
    )
    return [DatasetSummary(r.dataset_type, r.created_at, r.status, r.status_message) for r in rows]


def set_image_size(conn: Connection, project_id: int, size: tuple[int, int] | None) -> None:
    """Fix the project's image dimensions (set by the first image imported; None when it is empty)."""
    width, height = size if size is not None else (None, None)
    conn.execute(
        update(projects).where(projects.c.id == project_id).values(image_width=width, image_height=height)
    )


def delete_project(conn: Connection, project_id: int) -> None:
    """Remove the project row (datasets, entries and labels go with it through the foreign keys)."""
    conn.execute(delete(projects).where(projects.c.id == project_id))
