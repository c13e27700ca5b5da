"""Tag repository functions on SQLite and PostgreSQL."""

from __future__ import annotations

from openlookout.store import tags as repo
from openlookout.store.db import Database

ARN = "arn:aws:lookoutvision:us-east-1:111122223333:model/widgets/1"


def test_put_overwrites_existing_keys_and_lists_by_key(db: Database) -> None:
    with db.begin() as conn:
        repo.put_tags(conn, ARN, {"team": "qa", "env": "dev"})
        repo.put_tags(conn, ARN, {"env": "prod", "cost": ""})
    with db.begin() as conn:
        assert repo.list_tags(conn, ARN) == [
            repo.Tag("cost", ""),
            repo.Tag("env", "prod"),
            repo.Tag("team", "qa"),
        ]
        assert repo.count_tags(conn, ARN) == 3
        assert repo.existing_keys(conn, ARN, ["env", "nope"]) == {"env"}


def test_remove_ignores_unknown_keys_and_touches_one_resource(db: Database) -> None:
    other = ARN[:-1] + "2"
    with db.begin() as conn:
        repo.put_tags(conn, ARN, {"a": "1", "b": "2"})
        repo.put_tags(conn, other, {"a": "x"})
        repo.remove_tags(conn, ARN, ["a", "never-there"])
        repo.remove_tags(conn, ARN, [])
    with db.begin() as conn:
        assert repo.list_tags(conn, ARN) == [repo.Tag("b", "2")]
        assert repo.list_tags(conn, other) == [repo.Tag("a", "x")]


def test_prefix_removal_treats_like_wildcards_literally(db: Database) -> None:
    under = "arn:aws:lookoutvision:us-east-1:111122223333:model/my_proj/"
    lookalike = "arn:aws:lookoutvision:us-east-1:111122223333:model/myXproj/1"
    with db.begin() as conn:
        repo.put_tags(conn, under + "1", {"k": "v"})
        repo.put_tags(conn, under + "2", {"k": "v"})
        repo.put_tags(conn, lookalike, {"k": "v"})
        repo.remove_tags_with_prefix(conn, under)
    with db.begin() as conn:
        assert repo.list_tags(conn, under + "1") == []
        assert repo.list_tags(conn, under + "2") == []
        assert repo.list_tags(conn, lookalike) == [repo.Tag("k", "v")]
