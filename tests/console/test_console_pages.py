"""The web console against a live server: pages, forms, uploads, thumbnails and labeling."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import httpx
from PIL import Image
from tests.helpers.synthetic import png_image


def _client(server: Any) -> httpx.Client:
    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    return httpx.Client(base_url=server.url, timeout=30.0, follow_redirects=True, headers=headers)


def _upload(
    web: httpx.Client, project: str, data: bytes, name: str, label: str | None = None
) -> httpx.Response:
    params = {"name": name, **({"label": label} if label else {})}
    return web.post(
        f"/openlookout/v1/projects/{project}/datasets/train/images",
        params=params,
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def _stats(page_html: str, dataset: str) -> dict[str, int]:
    row = re.search(rf'<tr data-dataset="{dataset}">(.*?)</tr>', page_html, re.S)
    assert row is not None, page_html
    cells = dict(re.findall(r'<td class="(total|labeled|normal|anomaly)">(\d+)</td>', row.group(1)))
    return {k: int(v) for k, v in cells.items()}


def test_projects_page_create_and_delete_through_forms(server: Any, lv: Any) -> None:
    with _client(server) as web:
        empty = web.get("/")
        assert empty.status_code == 200 and "No projects yet" in empty.text
        assert web.get("/console/static/console.js").status_code == 200
        api_style = httpx.get(server.url + "/", headers={"Accept": "application/json"})
        assert api_style.status_code == 404 and api_style.json()["message"]

        created = web.post("/projects", data={"name": "bolts"})
        assert created.status_code == 200 and str(created.url).endswith("/projects/bolts")
        assert [p["ProjectName"] for p in lv.list_projects()["Projects"]] == ["bolts"]

        listing = web.get("/")
        assert "bolts" in listing.text and "missing:" in listing.text

        again = web.post("/projects", data={"name": "bolts"})
        assert again.status_code == 409 and "already exists" in again.text

        bad = web.post("/projects", data={"name": "no spaces allowed"})
        assert bad.status_code == 400 and 'class="error"' in bad.text

        web.post("/projects/bolts/datasets", data={"type": "train"})
        confirm = web.get("/projects/bolts/delete")
        assert confirm.status_code == 200 and "dataset 'train'" in html.unescape(confirm.text)
        refused = web.post("/projects/bolts/delete")
        assert refused.status_code == 409 and "delete them before the project" in refused.text

        lv.delete_dataset(ProjectName="bolts", DatasetType="train")
        gone = web.post("/projects/bolts/delete")
        assert gone.status_code == 200 and "No projects yet" in gone.text
        assert lv.list_projects()["Projects"] == []


def test_project_deleted_together_with_its_datasets(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="crates")
    with _client(server) as web:
        web.post("/projects/crates/datasets", data={"layout": "separate"})
        for seed in range(2):
            assert _upload(web, "crates", png_image(seed=seed), f"c{seed}.png").status_code == 200
        confirm = web.get("/projects/crates/delete")
        shown = html.unescape(confirm.text)
        assert "dataset 'train' (2 images)" in shown and "dataset 'test' (0 images)" in shown
        assert 'name="datasets" value="yes"' in confirm.text
        deleted = web.post("/projects/crates/delete", data={"datasets": "yes"})
        assert deleted.status_code == 200 and "No projects yet" in deleted.text
    assert lv.list_projects()["Projects"] == []


def test_project_page_shows_datasets_stats_and_readiness(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="gears")
    with _client(server) as web:
        page = web.post("/projects/gears/datasets", data={"type": "train"})
        assert page.status_code == 200
        assert _stats(page.text, "train") == {"total": 0, "labeled": 0, "normal": 0, "anomaly": 0}
        assert "Not ready to train yet" in page.text and 'id="upload"' in page.text
        assert "Add a test dataset" in page.text and "Create the train dataset" not in page.text

        missing = web.get("/projects/nothing-here")
        assert missing.status_code == 404 and 'class="error"' in missing.text


def test_upload_gallery_thumbnail_and_labeling(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="nuts")
    with _client(server) as web:
        for seed in range(3):
            assert _upload(web, "nuts", png_image(seed=seed), f"part{seed}.png").status_code == 200
        assert _upload(web, "nuts", png_image(seed=9), "good.png", label="normal").status_code == 200

        gallery = web.get("/projects/nuts/datasets/train/gallery")
        assert gallery.status_code == 200
        assert gallery.text.count('class="tile ') == 4 and "part2.png" in gallery.text
        thumbs = re.findall(r'src="(/console/thumbs/[0-9a-f]{64}\.jpg)"', gallery.text)
        assert len(thumbs) == 4
        thumb = web.get(thumbs[0])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert "max-age" in thumb.headers["cache-control"]
        assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
        assert web.get("/console/thumbs/" + "0" * 64 + ".jpg").status_code == 404

        unlabeled = web.get("/projects/nuts/datasets/train/gallery", params={"labeled": "no"})
        refs = re.findall(r'name="ref" value="([^"]+)"', unlabeled.text)
        assert len(refs) == 3
        contains = web.get("/projects/nuts/datasets/train/gallery", params={"contains": "good"})
        assert contains.text.count('class="tile ') == 1

        labeled = web.post(
            "/projects/nuts/datasets/train/gallery/labels", data={"ref": refs[:2], "label": "anomaly"}
        )
        assert labeled.status_code == 200, labeled.text
        assert labeled.text.count('class="tile anomaly"') == 2

        stats = lv.describe_dataset(ProjectName="nuts", DatasetType="train")["DatasetDescription"][
            "ImageStats"
        ]
        assert (stats["Labeled"], stats["Normal"], stats["Anomaly"]) == (3, 1, 2)
        assert _stats(web.get("/projects/nuts").text, "train") == {
            "total": 4,
            "labeled": 3,
            "normal": 1,
            "anomaly": 2,
        }

        nothing = web.post("/projects/nuts/datasets/train/gallery/labels", data={"label": "normal"})
        assert nothing.status_code == 400 and "Select at least one image" in nothing.text


def test_bad_upload_reason_is_the_apis(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="screws")
    with _client(server) as web:
        response = _upload(web, "screws", b"this is not an image", "notes.png")
        assert response.status_code == 400
        reason = response.json()["message"]
        assert "notes.png" in reason or "PNG" in reason or "image" in reason
        page = web.get("/projects/screws")
        assert page.status_code == 200 and "upload-errors" in page.text


def test_labeling_imported_images_goes_through_update_dataset_entries(server: Any, lv: Any) -> None:
    from tests.helpers.accounts import default_context

    from openlookout.service.imports import import_labeled_source

    folder = server.local_root / "plates"
    folder.mkdir(parents=True)
    for seed in range(2):
        (folder / f"plate{seed}.png").write_bytes(png_image(seed=seed))
    lv.create_project(ProjectName="plates")
    ctx = default_context(server.runtime)
    import_labeled_source(server.runtime, ctx, "plates", "train", folder.as_uri(), labeled=False)
    assert server.runtime.jobs.wait_idle(30.0)
    with _client(server) as web:
        gallery = web.get("/projects/plates/datasets/train/gallery")
        refs = re.findall(r'name="ref" value="([^"]+)"', gallery.text)
        assert len(refs) == 2 and all(not ref.startswith("upload://") for ref in refs)
        thumbs = re.findall(r'src="(/console/thumbs/[0-9a-f]{64}\.jpg)"', gallery.text)
        assert len(thumbs) == 2 and web.get(thumbs[1]).status_code == 200

        back = "/projects/plates/datasets/train/gallery?labeled=yes"
        labeled = web.post(
            "/projects/plates/datasets/train/gallery/labels",
            data={"ref": refs, "label": "normal", "back": back},
        )
        assert labeled.status_code == 200 and labeled.text.count('class="tile normal"') == 2
    stats = lv.describe_dataset(ProjectName="plates", DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert (stats["Total"], stats["Normal"], stats["Anomaly"]) == (2, 2, 0)


def test_gallery_pages_sixty_at_a_time_and_refuses_a_forged_token(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="many")
    with _client(server) as web:
        for seed in range(61):
            assert _upload(web, "many", png_image(seed=seed), f"img{seed:02d}.png").status_code == 200
        first_page = web.get("/projects/many/datasets/train/gallery")
        assert first_page.text.count('class="tile ') == 60
        next_link = re.search(r'<a href="([^"]+)" rel="next">', first_page.text)
        assert next_link is not None
        second_page = web.get(next_link.group(1).replace("&amp;", "&"))
        assert second_page.text.count('class="tile ') == 1 and "Page 2" in second_page.text
        assert 'rel="next"' not in second_page.text

        forged = web.get("/projects/many/datasets/train/gallery", params={"after": "Zm9yZ2Vk"})
        assert forged.status_code == 400 and 'class="error"' in forged.text
