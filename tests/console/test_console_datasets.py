"""Console datasets: single or separate creation, the test dataset, folder / S3 / manifest imports,
bad inputs, the gallery's anomaly-type filter and dataset switch, masks kept on relabeling, and the
gallery's page lookup (no scan of the project's entries)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers.synthetic import mask_png, png_image

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SCRATCH = "#D62728"
DENT = "#1F77B4"


def _client(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30.0, follow_redirects=True, headers=HTML)


def _stats(page_html: str, dataset: str) -> dict[str, int]:
    row = re.search(rf'<tr data-dataset="{dataset}">(.*?)</tr>', page_html, re.S)
    assert row is not None, page_html
    cells = dict(re.findall(r'<td class="(total|labeled|normal|anomaly)">(\d+)</td>', row.group(1)))
    return {k: int(v) for k, v in cells.items()}


def _dataset_types(lv: Any, project: str) -> list[str]:
    datasets = lv.describe_project(ProjectName=project)["ProjectDescription"].get("Datasets", [])
    return sorted(d["DatasetType"] for d in datasets)


def _settled(server: Any, web: httpx.Client, project: str) -> httpx.Response:
    """The project page once every dataset job has ended (it must no longer ask to refresh)."""
    assert server.runtime.jobs.wait_idle(60.0)
    page = web.get(f"/projects/{project}")
    assert page.status_code == 200 and "data-auto-refresh" not in page.text
    return page


def _labeled_folder(root: Path, normal: int, anomaly: int, first_seed: int = 0) -> Path:
    for label, count, offset in (("normal", normal, 0), ("anomaly", anomaly, normal)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            seed = first_seed + offset + i
            (root / label / f"{label}{seed:03d}.png").write_bytes(
                png_image(seed=seed, defect=label == "anomaly")
            )
    return root


def _error(page_html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page_html, re.S)
    assert found is not None, page_html
    return found.group(1)


def test_single_or_separate_datasets_and_adding_removing_test(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="single")
    lv.create_project(ProjectName="separate")
    with _client(server) as web:
        fresh = web.get("/projects/single")
        assert 'name="layout" value="single"' in fresh.text and 'value="separate"' in fresh.text

        single = web.post("/projects/single/datasets", data={"layout": "single"})
        assert single.status_code == 200 and str(single.url).endswith("/projects/single")
        assert _dataset_types(lv, "single") == ["train"]
        assert "Add a test dataset" in single.text

        separate = web.post("/projects/separate/datasets", data={"layout": "separate"})
        assert separate.status_code == 200 and _dataset_types(lv, "separate") == ["test", "train"]
        assert "Add a test dataset" not in separate.text

        odd = web.post("/projects/single/datasets", data={"layout": "triple"})
        assert odd.status_code == 400 and "single dataset or separate" in _error(odd.text)

        again = web.post("/projects/single/datasets", data={"type": "train"})
        assert again.status_code == 409 and _error(again.text)
        assert _dataset_types(lv, "single") == ["train"]

        added = web.post("/projects/single/datasets", data={"type": "test"})
        assert added.status_code == 200 and _dataset_types(lv, "single") == ["test", "train"]
        for seed in range(3):
            web.post(
                "/openlookout/v1/projects/single/datasets/test/images",
                params={"name": f"t{seed}.png", "label": "normal" if seed else None},
                content=png_image(seed=seed),
                headers={"Content-Type": "application/octet-stream"},
            ).raise_for_status()

        confirm = web.get("/projects/single/datasets/test/delete")
        assert confirm.status_code == 200
        assert '<strong class="image-count">3</strong> images (2 labeled)' in confirm.text
        assert "single dataset" in confirm.text
        removed = web.post("/projects/single/datasets/test/delete")
        assert removed.status_code == 200 and str(removed.url).endswith("/projects/single")
        assert _dataset_types(lv, "single") == ["train"]

        gone = web.get("/projects/single/datasets/test/delete")
        assert gone.status_code == 404 and _error(gone.text)
        twice = web.post("/projects/single/datasets/test/delete")
        assert twice.status_code == 404 and _error(twice.text)


def test_folder_import_shows_counts_and_bad_folder_the_services_reason(
    server: Any, lv: Any, tmp_path: Path
) -> None:
    folder = _labeled_folder(server.local_root / "bolts", normal=4, anomaly=2)
    lv.create_project(ProjectName="bolts")
    with _client(server) as web:
        started = web.post(
            "/projects/bolts/datasets/import", data={"type": "train", "source": str(folder), "labeled": "yes"}
        )
        assert started.status_code == 200, started.text
        page = _settled(server, web, "bolts")
        assert _stats(page.text, "train") == {"total": 6, "labeled": 6, "normal": 4, "anomaly": 2}

        more = _labeled_folder(server.local_root / "more", normal=1, anomaly=1, first_seed=50)
        web.post("/projects/bolts/datasets/import", data={"type": "train", "source": str(more)})
        page = _settled(server, web, "bolts")
        assert _stats(page.text, "train") == {"total": 8, "labeled": 6, "normal": 4, "anomaly": 2}

        outside = tmp_path / "elsewhere"
        _labeled_folder(outside, normal=1, anomaly=0, first_seed=80)
        web.post("/projects/bolts/datasets/import", data={"type": "test", "source": str(outside)})
        page = _settled(server, web, "bolts")
        assert "CREATE_FAILED" in page.text and "outside the folders this server may read" in page.text
        assert _stats(page.text, "train")["total"] == 8

        scheme = web.post("/projects/bolts/datasets/import", data={"type": "train", "source": "ftp://x/y"})
        assert scheme.status_code == 400 and "only s3://, file:// and local folders" in _error(scheme.text)
        empty = web.post("/projects/bolts/datasets/import", data={"type": "train", "source": " "})
        assert empty.status_code == 400 and "empty" in _error(empty.text)
        assert _stats(empty.text, "train")["total"] == 8


def test_project_page_refreshes_itself_while_a_dataset_is_busy(server: Any, lv: Any) -> None:
    from openlookout.store import entries as repo
    from openlookout.store.projects import get_project

    lv.create_project(ProjectName="busy")
    lv.create_dataset(ProjectName="busy", DatasetType="train")
    with server.runtime.db.begin() as conn:
        settings = server.runtime.settings
        project = get_project(conn, settings.default_account_id, settings.default_region, "busy")
        assert project is not None
        dataset = repo.get_dataset(conn, project.id, "train")
        assert dataset is not None
        repo.set_dataset_status(conn, dataset.id, "UPDATE_IN_PROGRESS", "importing 3/10", time.time())
    with _client(server) as web:
        busy = web.get("/projects/busy")
        assert 'data-auto-refresh="2000"' in busy.text and "importing 3/10" in busy.text
        assert '<td class="status busy">UPDATE_IN_PROGRESS' in busy.text
        with server.runtime.db.begin() as conn:
            repo.set_dataset_status(conn, dataset.id, "UPDATE_COMPLETE", None, time.time())
        assert "data-auto-refresh" not in web.get("/projects/busy").text


def test_s3_prefix_import(server: Any, lv: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="prefix-import")
    for i in range(3):
        s3.put_object(Bucket="prefix-import", Key=f"parts/normal/n{i}.png", Body=png_image(seed=i))
    s3.put_object(Bucket="prefix-import", Key="parts/anomaly/a0.png", Body=png_image(seed=9, defect=True))
    lv.create_project(ProjectName="prefix")
    with _client(server) as web:
        web.post("/projects/prefix/datasets", data={"layout": "separate"})
        web.post(
            "/projects/prefix/datasets/import",
            data={"type": "test", "source": "s3://prefix-import/parts/", "labeled": "yes"},
        )
        page = _settled(server, web, "prefix")
        assert _stats(page.text, "test") == {"total": 4, "labeled": 4, "normal": 3, "anomaly": 1}
        assert _stats(page.text, "train")["total"] == 0


def _manifest_line(ref: str, label: str | None, mask: tuple[str, str, str] | None = None) -> str:
    line: dict[str, Any] = {"source-ref": ref}
    if label is not None:
        line["anomaly-label"] = 1 if label == "anomaly" else 0
        line["anomaly-label-metadata"] = {
            "class-name": label,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "job-name": "labeling-job/test",
        }
    if mask is not None:
        mask_ref, type_name, colour = mask
        line["anomaly-mask-ref"] = mask_ref
        line["anomaly-mask-ref-metadata"] = {
            "internal-color-map": {
                "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0},
                "1": {"class-name": type_name, "hex-color": colour.lower(), "confidence": 0.0},
            },
            "type": "groundtruth/semantic-segmentation",
            "human-annotated": "yes",
        }
    return json.dumps(line)


def _masked_manifest(s3: Any, bucket: str) -> str:
    """Images and masks in S3 (2 normal, 2 scratch, 1 dent, 1 anomaly without mask); the manifest."""
    s3.create_bucket(Bucket=bucket)
    lines = []
    for i in range(2):
        s3.put_object(Bucket=bucket, Key=f"img/n{i}.png", Body=png_image(seed=i))
        lines.append(_manifest_line(f"s3://{bucket}/img/n{i}.png", "normal"))
    kinds = [("scratch", SCRATCH), ("scratch", SCRATCH), ("dent", DENT)]
    for i, (type_name, colour) in enumerate(kinds):
        s3.put_object(Bucket=bucket, Key=f"img/a{i}.png", Body=png_image(seed=20 + i, defect=True))
        s3.put_object(
            Bucket=bucket,
            Key=f"masks/a{i}.png",
            Body=mask_png(96, 64, [(colour, (10, 10, 30, 20))], palette=True),
        )
        mask = (f"s3://{bucket}/masks/a{i}.png", type_name, colour)
        lines.append(_manifest_line(f"s3://{bucket}/img/a{i}.png", "anomaly", mask))
    s3.put_object(Bucket=bucket, Key="img/plain.png", Body=png_image(seed=40, defect=True))
    lines.append(_manifest_line(f"s3://{bucket}/img/plain.png", "anomaly"))
    s3.put_object(Bucket=bucket, Key="train.manifest", Body="\n".join(lines).encode())
    return f"s3://{bucket}/train.manifest"


def test_manifest_import_creates_then_updates_and_bad_manifests_say_why(
    server: Any, lv: Any, s3: Any
) -> None:
    manifest = _masked_manifest(s3, "gt-manifest")
    s3.put_object(Bucket="gt-manifest", Key="img/u0.png", Body=png_image(seed=60))
    s3.put_object(Bucket="gt-manifest", Key="img/n0-again.png", Body=png_image(seed=61))
    update = "\n".join(
        [
            _manifest_line("s3://gt-manifest/img/u0.png", None),
            _manifest_line("s3://gt-manifest/img/n0-again.png", "normal"),
        ]
    )
    s3.put_object(Bucket="gt-manifest", Key="more.manifest", Body=update.encode())
    s3.put_object(
        Bucket="gt-manifest", Key="broken.manifest", Body=b'{"source-ref": "s3://gt-manifest/img/x.png"\n'
    )
    lv.create_project(ProjectName="gt")
    with _client(server) as web:
        created = web.post("/projects/gt/datasets/manifest", data={"type": "train", "manifest": manifest})
        assert created.status_code == 200, created.text
        page = _settled(server, web, "gt")
        assert _stats(page.text, "train") == {"total": 6, "labeled": 6, "normal": 2, "anomaly": 4}

        web.post(
            "/projects/gt/datasets/manifest",
            data={"type": "train", "manifest": "s3://gt-manifest/more.manifest"},
        )
        page = _settled(server, web, "gt")
        assert _stats(page.text, "train") == {"total": 8, "labeled": 7, "normal": 3, "anomaly": 4}

        broken = web.post(
            "/projects/gt/datasets/manifest",
            data={"type": "train", "manifest": "s3://gt-manifest/broken.manifest"},
        )
        assert broken.status_code == 200
        page = _settled(server, web, "gt")
        assert "UPDATE_FAILED_ROLLBACK_COMPLETE" in page.text and "line 1" in page.text
        assert _stats(page.text, "train")["total"] == 8

        missing = web.post(
            "/projects/gt/datasets/manifest",
            data={"type": "train", "manifest": "s3://no-such-bucket-here/x.manifest"},
        )
        assert missing.status_code == 400 and "cannot read the manifest" in _error(missing.text)

        web.post(
            "/projects/gt/datasets/manifest", data={"type": "test", "manifest": "s3://no-such-bucket-here/x"}
        )
        page = _settled(server, web, "gt")
        assert "CREATE_FAILED" in page.text and "cannot read the manifest" in page.text

        not_s3 = web.post(
            "/projects/gt/datasets/manifest", data={"type": "train", "manifest": "/tmp/x.manifest"}
        )
        assert not_s3.status_code == 400 and "s3://bucket/key" in _error(not_s3.text)
        assert _stats(not_s3.text, "train")["total"] == 8


def _gallery_refs(page_html: str) -> list[str]:
    return re.findall(r'name="ref" value="([^"]+)"', page_html)


def _entry(lv: Any, project: str, ref: str) -> dict[str, Any]:
    lines = lv.list_dataset_entries(ProjectName=project, DatasetType="train", SourceRefContains=ref)
    found = [json.loads(line) for line in lines["DatasetEntries"] if json.loads(line)["source-ref"] == ref]
    assert len(found) == 1
    return found[0]


def test_anomaly_type_filter_mask_marker_and_dataset_switch(server: Any, lv: Any, s3: Any) -> None:
    from sqlalchemy import insert, select

    from openlookout.store.tables import console_anomaly_types, projects

    manifest = _masked_manifest(s3, "types-filter")
    lv.create_project(ProjectName="types")
    with _client(server) as web:
        web.post("/projects/types/datasets/manifest", data={"type": "train", "manifest": manifest})
        _settled(server, web, "types")
        with server.runtime.db.begin() as conn:
            project_id = conn.execute(select(projects.c.id).where(projects.c.name == "types")).scalar_one()
            conn.execute(
                insert(console_anomaly_types).values(
                    project_id=project_id, name="crack", color="#2CA02C", created_at=time.time()
                )
            )

        gallery = web.get("/projects/types/datasets/train/gallery")
        options = re.findall(
            r'<option value="([^"]*)"[^>]*>', gallery.text.split('name="type"')[1].split("</select>")[0]
        )
        assert options == ["", "crack", "dent", "scratch"]
        assert gallery.text.count('class="mask-marker"') == 3
        assert (
            'href="/projects/types/datasets/train/label?ref=s3%3A%2F%2Ftypes-filter%2Fimg%2Fa0.png"'
            in gallery.text
        )
        assert "Dataset: <strong" in gallery.text and '/datasets/test/gallery"' not in gallery.text

        scratch = web.get("/projects/types/datasets/train/gallery", params={"type": "scratch"})
        assert sorted(_gallery_refs(scratch.text)) == [
            "s3://types-filter/img/a0.png",
            "s3://types-filter/img/a1.png",
        ]
        assert scratch.text.count('class="mask-marker"') == 2
        dent = web.get("/projects/types/datasets/train/gallery", params={"type": "dent", "contains": "a2"})
        assert _gallery_refs(dent.text) == ["s3://types-filter/img/a2.png"]
        none = web.get("/projects/types/datasets/train/gallery", params={"type": "dent", "contains": "a1"})
        assert _gallery_refs(none.text) == [] and "No images match" in none.text
        normal = web.get(
            "/projects/types/datasets/train/gallery", params={"type": "scratch", "class": "normal"}
        )
        assert _gallery_refs(normal.text) == []
        both = web.get(
            "/projects/types/datasets/train/gallery", params={"type": "scratch", "class": "anomaly"}
        )
        assert len(_gallery_refs(both.text)) == 2
        crack = web.get("/projects/types/datasets/train/gallery", params={"type": "crack"})
        assert _gallery_refs(crack.text) == []
        forged = web.get("/projects/types/datasets/train/gallery", params={"type": "dent", "after": "abc"})
        assert forged.status_code == 400 and "not valid" in _error(forged.text)

        web.post("/projects/types/datasets", data={"type": "test"})
        switch = web.get("/projects/types/datasets/test/gallery")
        assert switch.status_code == 200 and '/datasets/train/gallery"' in switch.text
        assert "No images match" in switch.text


def test_relabel_keeps_the_mask_for_anomaly_and_drops_it_for_normal(server: Any, lv: Any, s3: Any) -> None:
    manifest = _masked_manifest(s3, "relabel-masks")
    lv.create_project(ProjectName="relabel")
    a0, a1, plain = (f"s3://relabel-masks/img/{n}.png" for n in ("a0", "a1", "plain"))
    with _client(server) as web:
        web.post("/projects/relabel/datasets/manifest", data={"type": "train", "manifest": manifest})
        _settled(server, web, "relabel")
        before = _entry(lv, "relabel", a0)
        assert before["anomaly-mask-ref"].endswith("masks/a0.png")

        kept = web.post(
            "/projects/relabel/datasets/train/gallery/labels", data={"ref": [a0, plain], "label": "anomaly"}
        )
        assert kept.status_code == 200, kept.text
        after = _entry(lv, "relabel", a0)
        assert after["anomaly-mask-ref"] == before["anomaly-mask-ref"]
        assert (
            after["anomaly-mask-ref-metadata"]["internal-color-map"]
            == before["anomaly-mask-ref-metadata"]["internal-color-map"]
        )
        assert after["anomaly-label-metadata"]["class-name"] == "anomaly"
        assert "anomaly-mask-ref" not in _entry(lv, "relabel", plain)
        scratch = web.get("/projects/relabel/datasets/train/gallery", params={"type": "scratch"})
        assert sorted(_gallery_refs(scratch.text)) == [a0, a1]

        normal = web.post(
            "/projects/relabel/datasets/train/gallery/labels", data={"ref": [a1], "label": "normal"}
        )
        assert normal.status_code == 200, normal.text
        dropped = _entry(lv, "relabel", a1)
        assert dropped["anomaly-label-metadata"]["class-name"] == "normal"
        assert not any(key.startswith("anomaly-mask-ref") for key in dropped)
        scratch = web.get("/projects/relabel/datasets/train/gallery", params={"type": "scratch"})
        assert _gallery_refs(scratch.text) == [a0]
    stats = lv.describe_dataset(ProjectName="relabel", DatasetType="train")["DatasetDescription"][
        "ImageStats"
    ]
    assert (stats["Normal"], stats["Anomaly"]) == (3, 3)


def test_gallery_looks_up_only_the_page_and_finds_every_thumbnail(
    server: Any, lv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = server.local_root / "many"
    folder.mkdir()
    expected = {}
    for i in range(250):
        data = png_image(width=64, height=64, seed=1000 + i)
        path = folder / f"img{i:03d}.png"
        path.write_bytes(data)
        expected[path.as_uri()] = hashlib.sha256(data).hexdigest()
    lv.create_project(ProjectName="many")
    with _client(server) as web:
        web.post("/projects/many/datasets/import", data={"type": "train", "source": str(folder)})
        _settled(server, web, "many")

        import openlookout.store.entries as entries

        def no_scan(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the gallery must not scan every entry of the project")

        monkeypatch.setattr(entries, "project_entries", no_scan)
        seen: dict[str, str] = {}
        url: str | None = "/projects/many/datasets/train/gallery"
        pages = 0
        while url:
            page = web.get(url)
            assert page.status_code == 200, page.text
            pages += 1
            tiles = re.findall(
                r'src="/console/thumbs/([0-9a-f]{64})\.jpg".*?name="ref" value="([^"]+)"', page.text, re.S
            )
            assert len(tiles) == len(_gallery_refs(page.text))
            seen.update({ref: key for key, ref in tiles})
            found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
            url = found.group(1).replace("&amp;", "&") if found else None
        assert pages == 5 and seen == expected


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "1"])
def test_thumbnails_of_large_images_keep_their_shape_in_any_mode(mode: str) -> None:
    import io

    from PIL import Image

    from openlookout.service.thumbnails import THUMB_SIDE, make_thumbnail

    big = Image.frombytes("L", (1000, 640), bytes(range(256)) * 2500).convert(mode)
    data = io.BytesIO()
    big.save(data, format="PNG")
    thumb = Image.open(io.BytesIO(make_thumbnail(data.getvalue())))
    assert thumb.format == "JPEG" and thumb.mode == "RGB"
    assert thumb.size == (THUMB_SIDE, 102)
