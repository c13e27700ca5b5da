"""The console's precision-recall curve and its SVG, on small examples worked out by hand."""

from __future__ import annotations

import re

import pytest

from openlookout.console.plots import MAX_MARKERS, PRPoint, operating_point, pr_curve, pr_plot_svg


def test_pr_curve_on_a_hand_example() -> None:
    # scores high to low: 0.9 (anomaly), 0.8 (normal), 0.7 (anomaly), 0.4 (anomaly), 0.2 (normal)
    scores = [0.2, 0.9, 0.4, 0.8, 0.7]
    labels = [False, True, True, False, True]
    points = pr_curve(scores, labels)
    expected = [
        (0.9, 1 / 1, 1 / 3),
        (0.8, 1 / 2, 1 / 3),
        (0.7, 2 / 3, 2 / 3),
        (0.4, 3 / 4, 3 / 3),
        (0.2, 3 / 5, 3 / 3),
    ]
    assert [(p.threshold, p.precision, p.recall) for p in points] == [
        (t, pytest.approx(p), pytest.approx(r)) for t, p, r in expected
    ]


def test_tied_scores_give_one_point() -> None:
    points = pr_curve([0.6, 0.6, 0.3], [True, False, True])
    assert points == [PRPoint(0.6, 0.5, 0.5), PRPoint(0.3, pytest.approx(2 / 3), 1.0)]


def test_no_anomalies_means_no_curve() -> None:
    assert pr_curve([0.1, 0.9], [False, False]) == []


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        pr_curve([0.1], [True, False])
    with pytest.raises(ValueError):
        operating_point([True], [])


def test_operating_point() -> None:
    # 2 true positives, 1 false positive, 1 false negative
    predicted = [True, True, True, False, False]
    labels = [True, True, False, True, False]
    assert operating_point(predicted, labels) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert operating_point([False, False], [True, False]) == (0.0, 0.0)


def test_svg_marks_every_point_and_the_operating_point() -> None:
    points = pr_curve([0.9, 0.8, 0.7, 0.4], [True, False, True, True])
    svg = pr_plot_svg(points, (0.5, 0.25))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert ">Recall</text>" in svg and ">Precision</text>" in svg
    marked = re.findall(r'class="pr-point" data-threshold="([\d.]+)" data-precision="([\d.]+)"', svg)
    assert [(float(t), float(p)) for t, p in marked] == [
        (p.threshold, pytest.approx(p.precision, abs=1e-6)) for p in points
    ]
    operating = re.search(
        r'cx="([\d.]+)" cy="([\d.]+)" r="7" class="operating-point" '
        r'data-precision="([\d.]+)" data-recall="([\d.]+)"',
        svg,
    )
    assert operating is not None
    assert (float(operating.group(3)), float(operating.group(4))) == (0.5, 0.25)
    # recall 0.25 sits a quarter of the way along the x axis, precision 0.5 half way up
    frame = re.search(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg)
    assert frame is not None
    x, y, width, height = (float(v) for v in frame.groups())
    assert float(operating.group(1)) == pytest.approx(x + 0.25 * width, abs=0.01)
    assert float(operating.group(2)) == pytest.approx(y + 0.5 * height, abs=0.01)


def test_svg_without_points_still_draws_axes() -> None:
    svg = pr_plot_svg([], None)
    assert "polyline" not in svg and "operating-point" not in svg and ">Recall</text>" in svg


def test_large_curves_mark_a_subset_and_stay_small() -> None:
    count = 5 * MAX_MARKERS
    scores = [i / count for i in range(count)]
    labels = [i % 3 == 0 for i in range(count)]
    points = pr_curve(scores, labels)
    assert len(points) == count and points[-1].recall == 1.0
    svg = pr_plot_svg(points, (0.5, 0.5))
    markers = re.findall(r'class="pr-point" data-threshold="([\d.]+)"', svg)
    assert len(markers) == MAX_MARKERS
    assert float(markers[0]) == points[0].threshold
    drawn = re.search(r'<polyline points="([^"]+)"', svg)
    assert drawn is not None and 2 <= len(drawn.group(1).split()) < count
