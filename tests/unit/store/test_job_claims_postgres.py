"""Several servers on one PostgreSQL database race for the same queued jobs: each job is claimed
by exactly one of them (the claim is a conditional update, re-checked under the row lock)."""

from __future__ import annotations

import threading
from collections import Counter

from openlookout.store import jobs as job_store
from openlookout.store import migrate
from openlookout.store.db import Database

SERVERS = 4
JOBS = 40


def test_every_job_is_claimed_by_exactly_one_server(fresh_postgres_url: str) -> None:
    databases = [Database(fresh_postgres_url) for _ in range(SERVERS)]  # one pool per "server"
    try:
        migrate.upgrade(databases[0])
        with databases[0].begin() as conn:
            ids = [job_store.insert_job(conn, "test.race", {"n": n}) for n in range(JOBS)]
        claims: Counter[int] = Counter()
        owners: dict[int, str] = {}
        lock = threading.Lock()
        start = threading.Barrier(SERVERS)

        def server(index: int) -> None:
            start.wait()
            for job_id in ids:
                with databases[index].begin() as conn:
                    won = job_store.claim_job(conn, job_id, f"node-{index}")
                if won:
                    with lock:
                        claims[job_id] += 1
                        owners[job_id] = f"node-{index}"

        threads = [threading.Thread(target=server, args=(i,)) for i in range(SERVERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert claims == Counter(dict.fromkeys(ids, 1))
        with databases[0].begin() as conn:
            rows = [job_store.get_job(conn, job_id) for job_id in ids]
        assert all(row is not None and row.attempts == 1 and row.owner == owners[row.id] for row in rows)
    finally:
        for db in databases:
            db.dispose()
