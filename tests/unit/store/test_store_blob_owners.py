"""Blob ownership: recorded per account, and migration 0004 gives existing data to its accounts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from openlookout.store import blob_owners, migrate
from openlookout.store.db import Database


def test_migration_0004_owns_existing_entries_and_trial_images_by_their_account(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrate.upgrade(db, "0003_console")
        with db.engine.begin() as conn:
            for pid, account in ((1, "111111111111"), (2, "222222222222")):
                conn.execute(
                    text(
                        "INSERT INTO projects (id, account_id, region, name, arn, created_at) "
                        "VALUES (:id, :account, 'us-east-1', :name, 'arn', 0)"
                    ),
                    {"id": pid, "account": account, "name": f"p{pid}"},
                )
            conn.execute(
                text(
                    "INSERT INTO datasets (id, project_id, dataset_type, status, created_at, updated_at, "
                    "revision) VALUES (1, 1, 'train', 'CREATE_COMPLETE', 0, 0, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO dataset_entries (dataset_id, source_ref, created_at, updated_at, "
                    "image_sha256, mask_sha256, entry_json) VALUES (1, 'a.png', 0, 0, :image, :mask, '{}')"
                ),
                {"image": "a" * 64, "mask": "m" * 64},
            )
            conn.execute(
                text(
                    "INSERT INTO trial_runs (id, project_id, name, model_version, source_uri, status, "
                    "created_at, updated_at) VALUES (1, 2, 't', 1, 's3://b/', 'COMPLETED', 0, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO trial_images (trial_id, source_ref, image_sha256, updated_at) "
                    "VALUES (1, 'b.png', :image, 0)"
                ),
                {"image": "b" * 64},
            )
        migrate.upgrade(db)
        with db.engine.begin() as conn:
            assert blob_owners.owns(conn, "111111111111", "a" * 64)
            assert blob_owners.owns(conn, "111111111111", "m" * 64)
            assert blob_owners.owns(conn, "222222222222", "b" * 64)
            assert not blob_owners.owns(conn, "222222222222", "a" * 64)
            blob_owners.record(conn, "222222222222", ["a" * 64, None, "a" * 64])
            blob_owners.record(conn, "222222222222", ["a" * 64])
            assert blob_owners.owns(conn, "222222222222", "a" * 64)
            assert blob_owners.dataset_account(conn, 1) == "111111111111"
            assert blob_owners.project_account(conn, 2) == "222222222222"
    finally:
        db.dispose()
