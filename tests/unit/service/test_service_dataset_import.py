"""Manifest imports through the dataset job: what lands in the dataset and which line fails first."""

from __future__ import annotations

import json

import pytest
from tests.helpers.synthetic import jpeg_image, png_image
from tests.unit.service.dataset_support import CTX, Workspace, label_line, mask_line

from openlookout.errors import ConflictException, ResourceNotFoundException
from openlookout.service import dataset_jobs, datasets, entries
from openlookout.store import entries as repo
from openlookout.store.projects import get_project

RED, GREEN = "#D62728", "#23A436"


def test_empty_dataset_and_conflicts(ws: Workspace) -> None:
    with pytest.raises(ResourceNotFoundException) as missing:
        datasets.create_dataset(ws.runtime, CTX, {"ProjectName": "nope", "DatasetType": "train"})
    assert missing.value.fields["ResourceType"] == "PROJECT"
    ws.project()
    out = datasets.create_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})
    assert out["DatasetMetadata"]["Status"] == "CREATE_COMPLETE"
    with pytest.raises(ConflictException) as twice:
        datasets.create_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})
    assert twice.value.fields["ResourceType"] == "DATASET"
    stats = ws.describe()["ImageStats"]
    assert stats == {"Total": 0, "Labeled": 0, "Normal": 0, "Anomaly": 0}


def test_classification_manifest_counts_and_round_trip(ws: Workspace) -> None:
    ws.project()
    lines = [
        label_line(ws.image("n1.png", 1), "Normal"),
        label_line(ws.image("n2.png", 2), "normal", value="0"),
        label_line(ws.image("a1.png", 3), "Anomaly", value="7"),
        label_line(ws.image("u1.png", 4), "scratchy"),
        json.dumps({"source-ref": ws.image("u2.png", 5)}),
    ]
    described = ws.create_from_lines(lines)
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    assert described["ImageStats"] == {"Total": 5, "Labeled": 3, "Normal": 2, "Anomaly": 1}
    entries = {e["source-ref"].rsplit("/", 1)[1]: e for e in ws.entries()}
    assert entries["a1.png"]["anomaly-label"] == 1
    assert entries["a1.png"]["anomaly-label-metadata"]["class-name"] == "anomaly"
    assert entries["n2.png"]["anomaly-label"] == 0
    assert entries["n1.png"]["anomaly-label-metadata"]["class-name"] == "normal"
    assert "anomaly-label" not in entries["u2.png"]


def test_relative_refs_and_jpeg(ws: Workspace) -> None:
    ws.project()
    ws.write("set/images/a.jpg", jpeg_image(96, 64, seed=10))
    ws.write("set/images/b.png", png_image(96, 64, seed=11))
    manifest = "\n".join([label_line("images/a.jpg", "normal"), label_line("./images/b.png", "anomaly")])
    ws.write("set/train.manifest", manifest)
    uri = (ws.root / "set/train.manifest").as_uri()
    job = (dataset_jobs.IMPORT_MANIFEST, {"manifest_uri": uri})
    datasets.new_dataset(ws.runtime, CTX, "widgets", "train", "CREATE_IN_PROGRESS", job=job)
    ws.wait()
    described = ws.describe()
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    refs = sorted(e["source-ref"] for e in ws.entries())
    assert refs == ["./images/b.png", "images/a.jpg"]


def test_segmentation_manifest_registers_labels(ws: Workspace) -> None:
    ws.project()
    lines = [
        label_line(ws.image("n.png", 1), "normal"),
        mask_line(ws.image("a.png", 2), ws.mask("a-mask.png", [(RED, (5, 5, 20, 20))]), {RED: "chip"}),
        mask_line(
            ws.image("b.png", 3),
            ws.mask("b-mask.png", [(GREEN, (30, 30, 40, 40))]),
            {GREEN: "crack"},
            background=False,
        ),
    ]
    described = ws.create_from_lines(lines)
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusMessage")
    with ws.runtime.db.begin() as conn:
        project = get_project(conn, CTX.account_id, CTX.region, "widgets")
        assert project is not None
        assert repo.project_labels(conn, project.id) == {"chip": RED, "crack": GREEN}
        assert (project.image_width, project.image_height) == (96, 64)
    masked = [e for e in ws.entries() if "anomaly-mask-ref" in e]
    assert len(masked) == 2


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (lambda ws: label_line(ws.write("x.png", b"not an image at all"), "normal"), "neither PNG nor JPEG"),
        (lambda ws: label_line(ws.image("small.png", 9, width=50, height=50), "normal"), "below the minimum"),
        (lambda ws: label_line(ws.image("big.png", 9, width=4097, height=64), "normal"), "above the maximum"),
        (lambda ws: label_line(ws.image("other.png", 9, width=128, height=64), "normal"), "96x64"),
        (lambda ws: label_line(ws.image("copy.png", 1), "normal"), "same content as"),
        (lambda ws: "{not json", "not valid JSON"),
        (lambda ws: json.dumps({"anomaly-label": 1}), "no source-ref"),
        (
            lambda ws: label_line(ws.root.joinpath("first.png").as_uri(), "anomaly"),
            "already appears on line 1",
        ),
        (lambda ws: label_line("file:///etc/hostname", "normal"), "outside the folders"),
        (lambda ws: label_line(ws.image("long.png", 9), "normal", note="x" * 9000), "8192"),
        (
            lambda ws: mask_line(
                ws.image("m.png", 9), ws.mask("m-mask.png", [("#0000FF", (1, 1, 9, 9))]), {RED: "chip"}
            ),
            "not in the colour map",
        ),
        (
            lambda ws: mask_line(
                ws.image("m.png", 9), ws.write("m-mask.png", png_image(64, 64, seed=1)), {RED: "chip"}
            ),
            "mask",
        ),
        (
            lambda ws: mask_line(
                ws.image("m.png", 9), ws.write("m-mask.jpg", jpeg_image(96, 64, seed=1)), {RED: "chip"}
            ),
            "mask",
        ),
    ],
)
def test_first_bad_line_fails_the_import(ws: Workspace, bad, expected: str) -> None:  # type: ignore[no-untyped-def]
    ws.project()
    lines = [
        label_line(ws.image("first.png", 1), "normal"),
        label_line(ws.image("second.png", 2), "anomaly"),
        bad(ws),
        "{this later line is broken too",
    ]
    described = ws.create_from_lines(lines)
    assert described["Status"] == "CREATE_FAILED"
    message = described["StatusMessage"]
    assert message.startswith("line 3: "), message
    assert expected in message, message
    assert described["ImageStats"]["Total"] == 0
    assert "\n" not in message


def test_more_than_twenty_types_on_one_mask(ws: Workspace) -> None:
    ws.project()
    colours = {f"#{i:02X}00{255 - i:02X}": f"type{i}" for i in range(1, 22)}
    regions = [(c, (i * 4, 0, i * 4 + 3, 10)) for i, c in enumerate(colours)]
    line = mask_line(ws.image("a.png", 1), ws.mask("a-mask.png", regions), colours)
    described = ws.create_from_lines([line])
    assert described["Status"] == "CREATE_FAILED"
    assert described["StatusMessage"].startswith("line 1: ")
    assert "21 anomaly types" in described["StatusMessage"]


def test_truncated_files_are_rejected(ws: Workspace) -> None:
    ws.project()
    jpeg = jpeg_image(96, 64, seed=3)
    png = png_image(96, 64, seed=4)
    for name, data in (("cut.jpg", jpeg[: len(jpeg) // 2]), ("cut.png", png[: len(png) - 20])):
        ws.runtime.jobs.wait_idle(5)
        line = label_line(ws.write(name, data), "normal")
        kind = "train" if name.endswith("jpg") else "test"
        described = ws.create_from_lines([line], kind=kind)
        assert described["Status"] == "CREATE_FAILED", name
        assert described["StatusMessage"].startswith("line 1: image "), described["StatusMessage"]
        assert "truncated" in described["StatusMessage"] or "EOI" in described["StatusMessage"]


def test_image_size_is_shared_by_train_and_test(ws: Workspace) -> None:
    ws.project()
    assert ws.create_from_lines([label_line(ws.image("t.png", 1), "normal")])["Status"] == "CREATE_COMPLETE"
    big = label_line(ws.image("wide.png", 2, width=128), "normal")
    described = ws.create_from_lines([big], kind="test")
    assert described["Status"] == "CREATE_FAILED"
    assert "128x64" in described["StatusMessage"] and "96x64" in described["StatusMessage"]
    dup = label_line(ws.image("again.png", 1), "normal")
    datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "test"})
    described = ws.create_from_lines([dup], kind="test")
    assert described["Status"] == "CREATE_FAILED"
    assert "t.png (in the train dataset)" in described["StatusMessage"]


def test_dataset_quota(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(entries.DATASET_QUOTAS, "train", (3, 1))
    ws.project()
    lines = [label_line(ws.image(f"q{i}.png", i), "normal") for i in range(4)]
    described = ws.create_from_lines(lines)
    assert described["Status"] == "CREATE_FAILED"
    assert "at most 3" in described["StatusMessage"]


def test_dataset_survives_its_source_files(ws: Workspace) -> None:
    ws.project()
    ref = ws.image("gone.png", 1)
    assert ws.create_from_lines([label_line(ref, "normal")])["Status"] == "CREATE_COMPLETE"
    (ws.root / "gone.png").unlink()
    with ws.runtime.db.begin() as conn:
        dataset = datasets.read_dataset(ws.runtime, CTX, "widgets", "train")
        [entry] = [e for e in repo.project_entries(conn, dataset.project_id)]
    assert ws.runtime.blobs.get(entry.image_sha256) == png_image(96, 64, seed=1)
    assert ws.entries()[0]["source-ref"] == ref
