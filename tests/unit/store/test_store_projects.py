"""Project repository functions on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import IntegrityError

from openlookout.store import projects as repo
from openlookout.store.db import Database
from openlookout.store.tables import datasets

ACCOUNT, REGION = "111122223333", "us-east-1"


def _add(db: Database, name: str, created_at: float, account: str = ACCOUNT) -> repo.ProjectRow:
    with db.begin() as conn:
        return repo.insert_project(
            conn, account_id=account, region=REGION, name=name, arn=f"arn:{name}", created_at=created_at
        )


def test_insert_then_get_round_trips_every_field(db: Database) -> None:
    created = _add(db, "widgets", 1700000000.123456)
    with db.begin() as conn:
        found = repo.get_project(conn, ACCOUNT, REGION, "widgets")
        by_id = repo.get_project_by_id(conn, created.id)
    assert found == created == by_id
    assert found is not None and found.created_at == 1700000000.123456
    assert found.image_width is None


def test_names_are_unique_per_account_and_region_only(db: Database) -> None:
    _add(db, "same", 1.0)
    _add(db, "same", 2.0, account="999999999999")
    with pytest.raises(IntegrityError):
        _add(db, "same", 3.0)


def test_get_is_scoped_to_the_account(db: Database) -> None:
    _add(db, "mine", 1.0)
    with db.begin() as conn:
        assert repo.get_project(conn, "999999999999", REGION, "mine") is None
        assert repo.get_project(conn, ACCOUNT, "eu-west-1", "mine") is None


def test_list_orders_by_creation_then_name_and_pages_after_a_key(db: Database) -> None:
    for name, created in [("b", 5.0), ("a", 5.0), ("z", 1.0), ("m", 9.0)]:
        _add(db, name, created)
    _add(db, "other-account", 0.5, account="999999999999")
    with db.begin() as conn:
        everything = repo.list_projects(conn, ACCOUNT, REGION, after=None, limit=10)
        assert [p.name for p in everything] == ["z", "a", "b", "m"]
        first = repo.list_projects(conn, ACCOUNT, REGION, after=None, limit=2)
        assert [p.name for p in first] == ["z", "a"]
        rest = repo.list_projects(
            conn, ACCOUNT, REGION, after=(first[-1].created_at, first[-1].name), limit=10
        )
        assert [p.name for p in rest] == ["b", "m"]
        assert repo.count_projects(conn, ACCOUNT, REGION) == 4


def test_datasets_are_summarised_train_first_and_cascade_on_delete(db: Database) -> None:
    project = _add(db, "with-data", 1.0)
    now = time.time()
    with db.begin() as conn:
        for kind, status in [("test", "CREATE_IN_PROGRESS"), ("train", "CREATE_COMPLETE")]:
            conn.execute(
                datasets.insert().values(
                    project_id=project.id,
                    dataset_type=kind,
                    status=status,
                    status_message=None,
                    created_at=now,
                    updated_at=now,
                    revision=0,
                )
            )
    with db.begin() as conn:
        summaries = repo.project_datasets(conn, project.id)
    assert [(s.dataset_type, s.status) for s in summaries] == [
        ("train", "CREATE_COMPLETE"),
        ("test", "CREATE_IN_PROGRESS"),
    ]
    with db.begin() as conn:
        repo.lock_project(conn, project.id)
        repo.delete_project(conn, project.id)
    with db.begin() as conn:
        assert repo.get_project_by_id(conn, project.id) is None
        assert repo.project_datasets(conn, project.id) == []


def test_image_size_is_recorded(db: Database) -> None:
    project = _add(db, "sized", 1.0)
    with db.begin() as conn:
        repo.set_image_size(conn, project.id, (640, 480))
    with db.begin() as conn:
        found = repo.get_project_by_id(conn, project.id)
    assert found is not None and (found.image_width, found.image_height) == (640, 480)
