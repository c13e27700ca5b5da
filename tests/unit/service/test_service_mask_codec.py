"""The mask editor's label maps on the server: run-length transport, PNG masks, background colours."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from openlookout.errors import ValidationException
from openlookout.service.anomaly_types import is_background_colour
from openlookout.service.masks import encode_runs, mask_png, read_painted, stored_labels


def _labels() -> np.ndarray:
    labels = np.zeros((64, 80), dtype=np.uint8)
    labels[3:9, 4:30] = 3
    labels[40:60, 70:80] = 1
    return labels


def test_runs_round_trip_through_read_painted() -> None:
    labels = _labels()
    runs = encode_runs(labels)
    assert sum(runs[1::2]) == labels.size and all(runs[i] != runs[i + 2] for i in range(0, len(runs) - 2, 2))
    painted = read_painted({"width": 80, "height": 64, "types": ["a", "b", "c"], "runs": runs}, 80, 64)
    assert painted.types == ("a", "b", "c") and np.array_equal(painted.labels, labels)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "must be a JSON object"),
        ({"width": 80, "height": 0, "types": [], "runs": []}, "height must be a positive whole number"),
        ({"width": 80, "height": 64, "types": ["a", "a"], "runs": [0, 5120]}, "name one anomaly type twice"),
        (
            {"width": 80, "height": 64, "types": ["a"], "runs": [0, 5120, 1]},
            "must be a list of whole numbers",
        ),
        ({"width": 80, "height": 64, "types": ["a"], "runs": [0, 0, 0, 5120]}, "must cover 1 to 5120 pixels"),
        ({"width": 80, "height": 64, "types": ["a"], "runs": [-1, 5120]}, "type number -1"),
        ({"width": 80, "height": 64, "types": ["a"], "runs": [0, 10**30]}, "too large"),
        ({"width": 80, "height": 64, "types": ["a"], "runs": [0, 5119]}, "cover 5119 pixels"),
    ],
)
def test_read_painted_names_the_problem(document: object, reason: str) -> None:
    with pytest.raises(ValidationException) as caught:
        read_painted(document, 80, 64)
    assert reason in caught.value.message


def test_mask_png_keeps_only_painted_types_and_decodes_back() -> None:
    labels = _labels()
    painted = read_painted(
        {"width": 80, "height": 64, "types": ["a", "b", "c"], "runs": encode_runs(labels)}, 80, 64
    )
    built = mask_png(painted, {"a": "#112233", "b": "#445566", "c": "#AA0000"})
    assert built is not None
    png, colors = built
    assert colors == {"#112233": "a", "#AA0000": "c"}
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert set(map(tuple, rgba[labels == 3])) == {(170, 0, 0, 255)}
    assert set(map(tuple, rgba[labels == 1])) == {(17, 34, 51, 255)}
    assert (rgba[labels == 0][:, 3] == 0).all()
    decoded, names = stored_labels(png, colors, (), 80, 64, name="m.png")
    assert names == ["a", "c"]
    assert np.array_equal(np.where(decoded == 1, 1, np.where(decoded == 2, 3, 0)), labels)


def test_nothing_painted_gives_no_mask() -> None:
    painted = read_painted({"width": 80, "height": 64, "types": ["a"], "runs": [0, 5120]}, 80, 64)
    assert mask_png(painted, {"a": "#112233"}) is None


def test_background_colours_are_the_imaging_layers() -> None:
    assert is_background_colour("#FFFFFF") and is_background_colour("#000000")
    assert not is_background_colour("#FF0000") and not is_background_colour("#FEFEFE")
