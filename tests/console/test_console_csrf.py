"""Console forms refuse posts made by pages of another site (cross-site request forgery)."""

from __future__ import annotations

from typing import Any

import httpx

HTML = {"Accept": "text/html"}


def test_cross_site_form_post_is_refused_and_changes_nothing(server: Any, lv: Any) -> None:
    with httpx.Client(base_url=server.url, timeout=30.0, headers=HTML) as web:
        forged = web.post("/projects", data={"name": "forged"}, headers={"Origin": "http://evil.example"})
        assert forged.status_code == 403 and "another site" in forged.text
        fetched = web.post("/projects", data={"name": "fetched"}, headers={"Sec-Fetch-Site": "cross-site"})
        assert fetched.status_code == 403
        assert lv.list_projects()["Projects"] == []

        own_origin = server.url.rstrip("/")
        same = web.post("/projects", data={"name": "own"}, headers={"Origin": own_origin})
        assert same.status_code == 303
        assert [p["ProjectName"] for p in lv.list_projects()["Projects"]] == ["own"]
