"""The precision-recall curve of a model's test images, computed and drawn as inline SVG.

``pr_curve`` sweeps the decision threshold over every distinct anomaly score (an image counts as
anomalous when its score is at or above the threshold); ``operating_point`` is the precision and
recall of the model's own decisions (same conventions as the training metrics: 0 when nothing is
predicted anomalous or nothing is anomalous); ``plot_layout`` places both for the SVG template
``pr_plot.svg``, with axis labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openlookout.console.templating import TEMPLATES


@dataclass(frozen=True)
class PRPoint:
    """Precision and recall when images scoring ``threshold`` or more are called anomalous."""

    threshold: float
    precision: float
    recall: float


def pr_curve(scores: Sequence[float], labels: Sequence[bool]) -> list[PRPoint]:
    """One point per distinct score, from the highest threshold down; empty without anomalies."""
    if len(scores) != len(labels):
        raise ValueError("need one label per score")
    positives = sum(1 for label in labels if label)
    if positives == 0:
        return []
    ranked = sorted(zip(scores, labels, strict=True), key=lambda pair: pair[0], reverse=True)
    points = []
    true_positives = 0
    for index, (score, label) in enumerate(ranked):
        true_positives += 1 if label else 0
        last_of_tie = index + 1 == len(ranked) or ranked[index + 1][0] != score
        if last_of_tie:
            called = index + 1
            points.append(PRPoint(score, true_positives / called, true_positives / positives))
    return points


def operating_point(predicted: Sequence[bool], labels: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall) of the decisions ``predicted`` against the truth ``labels``."""
    if len(predicted) != len(labels):
        raise ValueError("need one label per decision")
    pairs = list(zip(predicted, labels, strict=True))
    true_positives = sum(1 for p, t in pairs if p and t)
    called = sum(1 for p, _ in pairs if p)
    positives = sum(1 for _, t in pairs if t)
    precision = true_positives / called if called else 0.0
    recall = true_positives / positives if positives else 0.0
    return precision, recall


# Plot geometry (SVG user units).
WIDTH, HEIGHT = 420, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 48
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
# At most this many points get a marker (every n-th point beyond it); the curve keeps them all.
MAX_MARKERS = 200
PLOT_TEMPLATE = "pr_plot.svg"


def _x(recall: float) -> float:
    return LEFT + recall * (WIDTH - LEFT - RIGHT)


def _y(precision: float) -> float:
    return HEIGHT - BOTTOM - precision * (HEIGHT - TOP - BOTTOM)


def plot_layout(points: Sequence[PRPoint], operating: tuple[float, float] | None) -> dict[str, Any]:
    """Everything ``templates/pr_plot.svg`` draws, as numbers already formatted for SVG.

    The curve goes through every point; every point is marked (every n-th beyond ``MAX_MARKERS``);
    ``operating`` (precision, recall) is the model's own decision, drawn as a ring. Markers carry
    their numbers as ``data-*`` attributes.
    """
    x0, y0, x1, y1 = _x(0), _y(0), _x(1), _y(1)
    step = -(-len(points) // MAX_MARKERS) if points else 1
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "frame": {"x": x0, "y": y1, "width": x1 - x0, "height": y0 - y1},
        "x_ticks": [{"at": f"{_x(t):.1f}", "y": y0, "label": f"{t:g}"} for t in TICKS],
        "y_ticks": [
            {"at": f"{_y(t):.1f}", "label_at": f"{_y(t) + 4:.1f}", "x": x0, "label": f"{t:g}"} for t in TICKS
        ],
        "x_label": {"x": f"{(x0 + x1) / 2:.1f}", "y": HEIGHT - 8},
        "y_label": {"y": f"{(y0 + y1) / 2:.1f}"},
        "curve": _path(points) if points else "",
        "markers": [
            {
                "cx": f"{_x(p.recall):.2f}",
                "cy": f"{_y(p.precision):.2f}",
                "threshold": f"{p.threshold:.6f}",
                "precision": f"{p.precision:.6f}",
                "recall": f"{p.recall:.6f}",
                "title": f"{_describe(p.precision, p.recall)} at score {p.threshold:.3f}",
            }
            for p in points[::step]
        ],
        "operating": None
        if operating is None
        else {
            "cx": f"{_x(operating[1]):.2f}",
            "cy": f"{_y(operating[0]):.2f}",
            "precision": f"{operating[0]:.6f}",
            "recall": f"{operating[1]:.6f}",
            "title": f"the model's threshold: {_describe(*operating)}",
        },
    }


def pr_plot_svg(points: Sequence[PRPoint], operating: tuple[float, float] | None) -> str:
    """The plot of ``plot_layout`` as SVG text (the template the metrics page includes)."""
    return TEMPLATES.get_template(PLOT_TEMPLATE).render(plot=plot_layout(points, operating)).strip()


def _path(points: Sequence[PRPoint]) -> str:
    """The curve's coordinates, leaving out points that fall on the previous one's pixel."""
    coordinates: list[str] = []
    last = (-1.0, -1.0)
    for p in points:
        here = (round(_x(p.recall)), round(_y(p.precision)))
        if here != last or p is points[-1]:
            coordinates.append(f"{_x(p.recall):.2f},{_y(p.precision):.2f}")
        last = here
    return " ".join(coordinates)


def _describe(precision: float, recall: float) -> str:
    return f"precision {precision:.3f}, recall {recall:.3f}"
