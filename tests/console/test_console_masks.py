"""Anomaly types page, the labeling page and the mask save/load routes against a live server."""

from __future__ import annotations

import io
import json
import re
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
from PIL import Image
from tests.helpers.synthetic import mask_png, png_image

WIDTH, HEIGHT = 96, 64
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _client(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30.0, follow_redirects=True, headers=HTML)


def _upload(web: httpx.Client, project: str, data: bytes, name: str, label: str | None = None) -> str:
    params = {"name": name, **({"label": label} if label else {})}
    response = web.post(
        f"/openlookout/v1/projects/{project}/datasets/train/images",
        params=params,
        content=data,
        headers={"Content-Type": "application/octet-stream", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["SourceRef"])


def _entries(lv: Any, project: str) -> dict[str, dict[str, Any]]:
    lines = lv.list_dataset_entries(ProjectName=project, DatasetType="train")["DatasetEntries"]
    return {entry["source-ref"]: entry for entry in map(json.loads, lines)}


def _runs(labels: np.ndarray) -> list[int]:
    runs: list[int] = []
    for value, group in groupby(labels.ravel().tolist()):
        runs += [int(value), len(list(group))]
    return runs


def _type_rows(page_html: str) -> dict[str, tuple[str, str]]:
    rows = re.findall(
        r'<tr data-type="([^"]+)">.*?<td class="colour">([^<]+)</td><td class="use">([^<]+)</td>', page_html
    )
    return {name: (colour, use) for name, colour, use in rows}


def _mask_url(project: str, ref: str) -> str:
    return f"/console/api/projects/{project}/datasets/train/mask?ref={ref}"


def test_anomaly_types_page_adds_validates_lists_and_deletes(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="rings")
    with _client(server) as web:
        ref = _upload(web, "rings", png_image(seed=1), "ring1.png", label="anomaly")
        empty = web.get("/projects/rings/anomaly-types")
        assert empty.status_code == 200 and "No anomaly types yet" in empty.text

        added = web.post("/projects/rings/anomaly-types", data={"name": "scratch", "color": "#ff0000"})
        assert added.status_code == 200 and str(added.url).endswith("/projects/rings/anomaly-types")
        assert _type_rows(added.text) == {"scratch": ("#FF0000", "not used yet")}
        web.post("/projects/rings/anomaly-types", data={"name": "dent", "color": "#0000ff"})

        refusals = {
            ("scratch", "#00ff00"): "already has an anomaly type named scratch",
            ("chip", "#FF0000"): "already used by anomaly type scratch",
            ("chip", "#ffffff"): "Masks read #FFFFFF as background",
            ("chip", "#000000"): "Masks read #000000 as background",
            ("chip", "red"): "is not a colour of the form #RRGGBB",
            ("two words", "#00ff00"): "must fully match the pattern [a-zA-Z0-9]*",
            ("", "#00ff00"): "has 0 characters; at least 1 needed",
            ("Background", "#00ff00"): "reserved",
        }
        for (name, colour), reason in refusals.items():
            refused = web.post("/projects/rings/anomaly-types", data={"name": name, "color": colour})
            assert refused.status_code == 400 and reason in refused.text, (name, colour, refused.text)
            assert 'class="error"' in refused.text and 'add-type"' in refused.text
        assert set(_type_rows(web.get("/projects/rings/anomaly-types").text)) == {"scratch", "dent"}

        # A mask imported through the API makes its type known to the service: listed "in use".
        mask_file = server.local_root / "ring1-mask.png"
        mask_file.write_bytes(mask_png(WIDTH, HEIGHT, [("#00FF00", (2, 2, 10, 10))]))
        line = {
            "source-ref": ref,
            "anomaly-label": 1,
            "anomaly-label-metadata": {"class-name": "anomaly", "type": "groundtruth/image-classification"},
            "anomaly-mask-ref": mask_file.as_uri(),
            "anomaly-mask-ref-metadata": {
                "internal-color-map": {"0": {"class-name": "chip", "hex-color": "#00ff00"}},
                "type": "groundtruth/semantic-segmentation",
            },
        }
        lv.update_dataset_entries(ProjectName="rings", DatasetType="train", Changes=json.dumps(line).encode())
        assert server.runtime.jobs.wait_idle(30.0)
        listing = web.get("/projects/rings/anomaly-types").text
        assert _type_rows(listing)["chip"] == ("#00FF00", "in use (1 image)")
        imported = web.get(_mask_url("rings", ref)).json()  # read from the service's copy of the mask
        assert imported["types"] == [{"name": "chip", "color": "#00FF00"}]
        assert sum(n for v, n in zip(imported["runs"][0::2], imported["runs"][1::2], strict=True) if v) == 64
        taken = web.post("/projects/rings/anomaly-types", data={"name": "other", "color": "#00ff00"})
        assert taken.status_code == 400 and "already used by anomaly type chip" in taken.text

        # Only unused console-defined types can be deleted.
        refused = web.post("/projects/rings/anomaly-types/delete", data={"name": "chip"})
        assert refused.status_code == 400 and "no anomaly type chip defined in the console" in refused.text
        deleted = web.post("/projects/rings/anomaly-types/delete", data={"name": "dent"})
        assert deleted.status_code == 200 and set(_type_rows(deleted.text)) == {"chip", "scratch"}

        missing = web.get("/projects/nowhere/anomaly-types")
        assert missing.status_code == 404 and 'class="error"' in missing.text


def test_saving_a_painted_mask_updates_the_entry_and_reloads_exactly(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="plates")
    with _client(server) as web:
        ref = _upload(web, "plates", png_image(seed=2), "plate.png", label="anomaly")
        other = _upload(web, "plates", png_image(seed=3), "other.png")
        for name, colour in (("scratch", "#ff0000"), ("dent", "#0000ff"), ("spare", "#00aa00")):
            web.post("/projects/plates/anomaly-types", data={"name": name, "color": colour})

        labels = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        labels[5:15, 10:40] = 1  # scratch
        labels[30:50, 60:70] = 2  # dent
        labels[40, 5] = 2
        posted = {
            "width": WIDTH,
            "height": HEIGHT,
            "types": ["scratch", "dent", "spare"],
            "runs": _runs(labels),
        }
        saved = web.post(_mask_url("plates", ref), json=posted)
        assert saved.status_code == 200, saved.text
        assert saved.json()["counts"] == {"scratch": 300, "dent": 201}
        assert saved.json()["message"] == "Saved: 501 mask pixels."

        line = _entries(lv, "plates")[ref]
        assert line["anomaly-label-metadata"]["class-name"] == "anomaly"
        mask_ref = line["anomaly-mask-ref"]
        assert mask_ref == saved.json()["maskRef"] and mask_ref.startswith("upload://")
        colour_map = line["anomaly-mask-ref-metadata"]["internal-color-map"]
        assert {v["class-name"]: v["hex-color"] for v in colour_map.values()} == {
            "scratch": "#ff0000",
            "dent": "#0000ff",
        }
        stats = lv.describe_dataset(ProjectName="plates", DatasetType="train")["DatasetDescription"]
        assert (stats["ImageStats"]["Anomaly"], stats["ImageStats"]["Total"]) == (1, 2)
        rows = _type_rows(web.get("/projects/plates/anomaly-types").text)
        assert rows["scratch"][1] == "in use (1 image)" and rows["spare"][1] == "not used yet"

        # The stored PNG holds exactly the painted pixels: type colours, transparent background.
        sha = mask_ref[len("upload://") :].split("/", 1)[0]
        rgba = np.asarray(Image.open(io.BytesIO(server.runtime.blobs.get(sha))).convert("RGBA"))
        expected = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)
        expected[labels == 1] = (255, 0, 0, 255)
        expected[labels == 2] = (0, 0, 255, 255)
        assert np.array_equal(rgba[..., 3] == 0, labels == 0)
        assert np.array_equal(rgba[labels > 0], expected[labels > 0])

        # The mask route gives the same label map back (indices into its own type list).
        loaded = web.get(_mask_url("plates", ref), headers={"Accept": "application/json"}).json()
        names = ["", *(t["name"] for t in loaded["types"])]
        flat = np.repeat(np.array(loaded["runs"][0::2]), loaded["runs"][1::2])
        by_name = np.array([names[v] for v in flat]).reshape(HEIGHT, WIDTH)
        assert np.array_equal(by_name == "scratch", labels == 1)
        assert np.array_equal(by_name == "dent", labels == 2)
        assert {t["name"]: t["color"] for t in loaded["types"]} == {"scratch": "#FF0000", "dent": "#0000FF"}
        assert web.get(_mask_url("plates", other)).json()["runs"] == []

        # Bad posts: the precise reason, nothing changed.
        bad_posts = {
            "The mask is 10x64 px but the image is 96x64 px": {**posted, "width": 10},
            "The project has no anomaly type ghost": {**posted, "types": ["scratch", "ghost", "spare"]},
            "uses type number 4 but lists only 3 types": {**posted, "runs": [4, WIDTH * HEIGHT]},
            f"cover 5 pixels but the image has {WIDTH * HEIGHT}": {**posted, "runs": [0, 5]},
            "must be a list of whole numbers": {**posted, "runs": [0, "many"]},
        }
        for reason, document in bad_posts.items():
            refused = web.post(_mask_url("plates", ref), json=document)
            assert refused.status_code == 400 and reason in refused.json()["message"], refused.text
        not_json = web.post(
            _mask_url("plates", ref), content=b"{oops", headers={"Content-Type": "text/plain"}
        )
        assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
        unknown = web.post(_mask_url("plates", "upload://" + "0" * 64 + "/x.png"), json=posted)
        assert unknown.status_code == 404 and "has no image" in unknown.json()["message"]
        assert _entries(lv, "plates")[ref]["anomaly-mask-ref"] == mask_ref

        # Nothing painted: the image stays anomaly, without a mask.
        blank = {**posted, "runs": [0, WIDTH * HEIGHT]}
        cleared = web.post(_mask_url("plates", ref), json=blank)
        assert cleared.status_code == 200 and "without a mask" in cleared.json()["message"]
        line = _entries(lv, "plates")[ref]
        assert "anomaly-mask-ref" not in line and line["anomaly-label-metadata"]["class-name"] == "anomaly"


def test_label_page_shows_image_neighbours_and_labels(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="bolts")
    with _client(server) as web:
        refs = [_upload(web, "bolts", png_image(seed=s), f"bolt{s}.png") for s in range(3)]
        middle = web.get("/projects/bolts/datasets/train/label", params={"ref": refs[1]})
        assert middle.status_code == 200
        assert "image 2 of 3" in middle.text and "Label the image anomaly to paint its mask" in middle.text
        found = re.findall(r'<a href="([^"]+)" rel="(prev|next)">', middle.text)
        links = {rel: href.replace("&amp;", "&") for href, rel in found}
        assert links == {
            "prev": "/projects/bolts/datasets/train/label?" + urlencode({"ref": refs[0]}),
            "next": "/projects/bolts/datasets/train/label?" + urlencode({"ref": refs[2]}),
        }
        prev_page = web.get(links["prev"])
        assert "image 1 of 3" in prev_page.text and "bolt0.png" in prev_page.text
        assert 'rel="prev"' not in prev_page.text

        image = web.get("/console/api/projects/bolts/datasets/train/image", params={"ref": refs[1]})
        assert image.status_code == 200 and image.content == png_image(seed=1)

        labeled = web.post("/projects/bolts/datasets/train/label", data={"ref": refs[1], "label": "anomaly"})
        assert labeled.status_code == 200 and 'id="mask-editor"' in labeled.text
        config = re.search(
            r'<script type="application/json" class="editor-config">(.*?)</script>', labeled.text
        )
        assert config is not None
        assert json.loads(config.group(1))["width"] == WIDTH
        assert _entries(lv, "bolts")[refs[1]]["anomaly-label-metadata"]["class-name"] == "anomaly"

        bad = web.post("/projects/bolts/datasets/train/label", data={"ref": refs[1], "label": "maybe"})
        assert (
            bad.status_code == 400 and "Choose normal or anomaly" in bad.text and "image 2 of 3" in bad.text
        )
        missing = web.get("/projects/bolts/datasets/train/label", params={"ref": "s3://nope/x.png"})
        assert missing.status_code == 404 and "has no image s3://nope/x.png" in missing.text


def test_labels_and_masks_change_in_the_request_after_the_original_files_are_gone(
    server: Any, lv: Any
) -> None:
    """A console edit reads the service's own copies: it needs neither the original files nor a job."""
    from sqlalchemy import select
    from tests.helpers.accounts import default_context

    from openlookout.service.imports import import_labeled_source
    from openlookout.store.tables import jobs

    folder = server.local_root / "gone"
    folder.mkdir()
    for seed in range(2):
        (folder / f"gone{seed}.png").write_bytes(png_image(WIDTH, HEIGHT, seed=40 + seed))
    lv.create_project(ProjectName="gone")
    import_labeled_source(
        server.runtime, default_context(server.runtime), "gone", "train", folder.as_uri(), False
    )
    assert server.runtime.jobs.wait_idle(30.0)
    for file in folder.iterdir():
        file.unlink()

    def job_count() -> int:
        with server.runtime.db.begin() as conn:
            return len(conn.execute(select(jobs.c.id)).all())

    queued = job_count()
    refs = sorted(_entries(lv, "gone"))
    with _client(server) as web:
        labeled = web.post(
            "/projects/gone/datasets/train/gallery/labels", data={"ref": refs, "label": "anomaly"}
        )
        assert labeled.status_code == 200 and labeled.text.count('class="tile anomaly"') == 2
        web.post("/projects/gone/anomaly-types", data={"name": "scratch", "color": "#ff0000"})
        labels = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        labels[2:6, 3:9] = 1
        painted = {"width": WIDTH, "height": HEIGHT, "types": ["scratch"], "runs": _runs(labels)}
        saved = web.post(_mask_url("gone", refs[0]), json=painted)
        assert saved.status_code == 200 and saved.json()["counts"] == {"scratch": 24}, saved.text
    assert job_count() == queued  # both edits were applied in their requests
    described = lv.describe_dataset(ProjectName="gone", DatasetType="train")["DatasetDescription"]
    assert described["Status"] == "UPDATE_COMPLETE" and described["ImageStats"]["Anomaly"] == 2
    assert _entries(lv, "gone")[refs[0]]["anomaly-mask-ref"] == saved.json()["maskRef"]
