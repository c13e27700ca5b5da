"""The console in headless Chromium: signing in and out with a credentials file, one account's pages
and images closed to another's session, framing refused, and pages of another origin (a second
loopback port) that post to the API and the console changing nothing."""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from tests.console.browser import launch, screenshot
from tests.contract.conftest import LiveServer, _start_server, s3_client
from tests.helpers.auth import A1, B1, send, signed_request, tenant_settings
from tests.helpers.synthetic import png_image

from openlookout.auth.credentials import AccessKey


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("console-auth")
    overrides, _ = tenant_settings(base / "keys", s3_client(s3_endpoint))
    live = _start_server(base, s3_endpoint, overrides)
    yield live
    live.stop()


class OtherSite:
    """A page served from another loopback port (another origin), with the HTML it is given."""

    def __init__(self, page: str) -> None:
        body = page.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sign_in(page: Any, key: AccessKey, secret: str | None = None) -> None:
    page.fill("input[name=access_key_id]", key.access_key_id)
    page.fill("input[name=secret_access_key]", secret or key.secret_access_key)
    page.click("form.sign-in button")


def test_sign_in_is_required_and_sign_out_ends_the_session(keyed_server: LiveServer) -> None:
    base = keyed_server.url
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(base + "/projects/anything")
            expect(page).to_have_url(base + "/console/login?next=%2Fprojects%2Fanything")
            screenshot(page, "sign-in")
            sign_in(page, A1, secret="not-the-secret-of-a1-0000000")
            expect(page.locator("p.error")).to_contain_text("do not match")
            sign_in(page, A1)
            expect(page).to_have_url(base + "/projects/anything")
            expect(page.locator("p.error")).to_contain_text("does not exist")
            page.goto(base + "/")
            expect(page.locator(".signed-in")).to_contain_text(A1.access_key_id)
            page.fill("form.new-project input[name=name]", "browser-a")
            page.click("form.new-project button")
            expect(page).to_have_url(base + "/projects/browser-a")
            cookies = {c["name"]: c for c in page.context.cookies()}
            session = cookies["openlookout_session"]
            assert session["httpOnly"] and session["sameSite"] == "Strict"
            page.click("form.sign-out button")
            expect(page).to_have_url(base + "/console/login")
            page.goto(base + "/projects/browser-a")
            expect(page).to_have_url(base + "/console/login?next=%2Fprojects%2Fbrowser-a")
        finally:
            browser.close()


def test_a_session_of_b_cannot_open_as_pages_or_images(keyed_server: LiveServer) -> None:
    base = keyed_server.url
    send(*_signed_json(base, "/2020-11-20/projects", {"ProjectName": "only-a"}))
    url = f"{base}/openlookout/v1/projects/only-a/datasets/train/images?name=a.png&label=normal"
    target, headers, body = signed_request(
        "POST", url, A1, body=png_image(seed=8), headers={"Content-Type": "image/png"}
    )
    sha = send("POST", target, headers, body).json()["SourceRef"].split("/")[2]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(base + "/")
            sign_in(page, B1)
            expect(page.locator(".signed-in")).to_contain_text(B1.access_key_id)
            assert "only-a" not in page.content()
            response = page.goto(base + "/projects/only-a/datasets/train/gallery")
            assert response is not None and response.status == 404
            expect(page.locator("p.error")).to_contain_text("does not exist")
            screenshot(page, "other-account-refused")
            image = page.goto(f"{base}/console/thumbs/{sha}.jpg")
            assert image is not None and image.status == 404
        finally:
            browser.close()


def _signed_json(base: str, path: str, document: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
    body = json.dumps(document).encode()
    url, headers, _ = signed_request(
        "POST", base + path, A1, body=body, headers={"Content-Type": "application/json"}
    )
    return "POST", url, headers, body


def test_framing_the_console_shows_nothing(keyed_server: LiveServer) -> None:
    base = keyed_server.url
    answer = httpx.get(base + "/console/login", headers={"Accept": "text/html"}, timeout=30)
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    framing = OtherSite(
        f'<!doctype html><p>bait</p><iframe id="console" src="{html.escape(base)}/console/login"></iframe>'
    )
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                page = browser.new_page()
                page.set_default_timeout(15_000)
                page.goto(framing.url)
                page.wait_for_load_state("load")
                frames = [f for f in page.frames if f != page.main_frame]
                assert frames, "the test page has its frame"
                for frame in frames:
                    text = frame.evaluate("document.body ? document.body.innerText : ''")
                    assert "Sign in" not in text and "OpenLookout" not in text
                    assert not frame.url.startswith(base)
                screenshot(page, "framing-refused")
            finally:
                browser.close()
    finally:
        framing.close()


def test_pages_of_another_origin_change_nothing(server: Any, lv: Any) -> None:
    """Against the default server (no credentials, loopback): where cross-site requests matter most."""
    lv.create_project(ProjectName="kept")
    base = server.url
    target = html.escape(base)
    attack = OtherSite(
        f"""<!doctype html><body>
<form id="forge" method="post" action="{target}/projects"><input name="name" value="forged-form"></form>
<form id="wipe" method="post" action="{target}/projects/kept/delete" target="sink"></form>
<iframe name="sink"></iframe>
</body>"""
    )
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                page = browser.new_page()
                page.set_default_timeout(15_000)
                page.goto(attack.url)
                outcomes = page.evaluate(
                    """async (base) => {
                      const tries = [
                        [base + "/2020-11-20/projects", '{"ProjectName": "forged-api"}'],
                        [base + "/openlookout/v1/projects/kept/datasets/train/import", '{"Source": "/"}'],
                      ];
                      const out = [];
                      for (const [url, body] of tries) {
                        try {
                          const r = await fetch(url, {method: "POST", mode: "no-cors", body,
                                                      headers: {"Content-Type": "text/plain"}});
                          out.push(r.type);
                        } catch (e) { out.push("error"); }
                      }
                      return out;
                    }""",
                    base,
                )
                assert len(outcomes) == 2
                page.evaluate("document.getElementById('wipe').submit()")
                page.wait_for_timeout(500)
                with page.expect_navigation():
                    page.evaluate("document.getElementById('forge').submit()")
                assert "another site" in page.content()
                screenshot(page, "cross-site-refused")
            finally:
                browser.close()
    finally:
        attack.close()
    assert [p["ProjectName"] for p in lv.list_projects()["Projects"]] == ["kept"]
    assert lv.describe_project(ProjectName="kept")["ProjectDescription"].get("Datasets", []) == []
    rebound = httpx.delete(
        f"{base}/2020-11-20/projects/kept", headers={"Host": "evil.example:8080"}, timeout=30
    )
    assert rebound.status_code == 403 and "Host" in rebound.json()["message"]
    page_rebound = httpx.post(
        f"{base}/projects/kept/delete", headers={"Host": "evil.example", "Accept": "text/html"}, timeout=30
    )
    assert page_rebound.status_code == 403
    assert [p["ProjectName"] for p in lv.list_projects()["Projects"]] == ["kept"]
