"""Repository functions for resource tags, stored per resource ARN."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select, update

from openlookout.store.tables import tags


@dataclass(frozen=True)
class Tag:
    key: str
    value: str


def list_tags(conn: Connection, resource_arn: str) -> list[Tag]:
    """The resource's tags ordered by key."""
    rows = conn.execute(
        select(tags.c.key, tags.c.value).where(tags.c.resource_arn == resource_arn).order_by(tags.c.key)
    )
    return [Tag(r.key, r.value) for r in rows]


def count_tags(conn: Connection, resource_arn: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(tags).where(tags.c.resource_arn == resource_arn)
        ).scalar_one()
    )


def existing_keys(conn: Connection, resource_arn: str, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` the resource already has."""
    wanted = list(keys)
    if not wanted:
        return set()
    rows = conn.execute(select(tags.c.key).where(tags.c.resource_arn == resource_arn, tags.c.key.in_(wanted)))
    return {r.key for r in rows}


def put_tags(conn: Connection, resource_arn: str, new_tags: Mapping[str, str]) -> None:
    """Add the tags, overwriting the value of keys the resource already has."""
    present = existing_keys(conn, resource_arn, new_tags)
    for key, value in new_tags.items():
        if key in present:
            conn.execute(
                update(tags).where(tags.c.resource_arn == resource_arn, tags.c.key == key).values(value=value)
            )
        else:
            conn.execute(tags.insert().values(resource_arn=resource_arn, key=key, value=value))


def remove_tags(conn: Connection, resource_arn: str, keys: Iterable[str]) -> None:
    """Remove the given keys (keys the resource does not have are ignored)."""
    wanted = list(keys)
    if wanted:
        conn.execute(delete(tags).where(tags.c.resource_arn == resource_arn, tags.c.key.in_(wanted)))


def remove_tags_with_prefix(conn: Connection, arn_prefix: str) -> None:
    """Remove the tags of every resource whose ARN starts with ``arn_prefix``."""
    escaped = arn_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conn.execute(delete(tags).where(tags.c.resource_arn.like(escaped + "%", escape="\\")))
