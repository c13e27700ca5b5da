"""The precision-recall curve of a model's test images, computed and drawn as inline SVG.

``pr_curve`` sweeps the decision threshold over every distinct anomaly score (an image counts as
anomalous when its score is at or above the threshold); ``operating_point`` is the precision and
recall of the model's own decisions (same conventions as the training metrics: 0 when nothing is
predicted anomalous or nothing is anomalous); ``pr_plot_svg`` draws both, with axis labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openlookout.console.render import esc


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


def _x(recall: float) -> float:
    return LEFT + recall * (WIDTH - LEFT - RIGHT)


def _y(precision: float) -> float:
    return HEIGHT - BOTTOM - precision * (HEIGHT - TOP - BOTTOM)


def _axes() -> str:
    x0, y0, x1, y1 = _x(0), _y(0), _x(1), _y(1)
    parts = [
        f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" class="frame"/>',
    ]
    for tick in TICKS:
        parts.append(f'<line x1="{_x(tick):.1f}" y1="{y0}" x2="{_x(tick):.1f}" y2="{y0 + 5}" class="tick"/>')
        parts.append(
            f'<text x="{_x(tick):.1f}" y="{y0 + 18}" text-anchor="middle" class="tick-label">{tick:g}</text>'
        )
        parts.append(f'<line x1="{x0 - 5}" y1="{_y(tick):.1f}" x2="{x0}" y2="{_y(tick):.1f}" class="tick"/>')
        parts.append(
            f'<text x="{x0 - 8}" y="{_y(tick) + 4:.1f}" text-anchor="end" class="tick-label">{tick:g}</text>'
        )
    centre = (x0 + x1) / 2
    parts.append(
        f'<text x="{centre:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="axis-label">Recall</text>'
    )
    middle = (y0 + y1) / 2
    parts.append(
        f'<text x="14" y="{middle:.1f}" text-anchor="middle" class="axis-label" '
        f'transform="rotate(-90 14 {middle:.1f})">Precision</text>'
    )
    return "".join(parts)


def pr_plot_svg(points: Sequence[PRPoint], operating: tuple[float, float] | None) -> str:
    """The curve through ``points`` with each point marked (every n-th beyond ``MAX_MARKERS``), and
    ``operating`` (precision, recall) as a distinct marker. Markers carry their numbers as ``data-*``
    attributes."""
    parts = [
        f'<svg class="pr-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Precision-recall curve">',
        _axes(),
    ]
    if points:
        parts.append(f'<polyline points="{_path(points)}" class="curve"/>')
        step = -(-len(points) // MAX_MARKERS)
        for p in points[::step]:
            parts.append(
                f'<circle cx="{_x(p.recall):.2f}" cy="{_y(p.precision):.2f}" r="3" class="pr-point" '
                f'data-threshold="{p.threshold:.6f}" data-precision="{p.precision:.6f}" '
                f'data-recall="{p.recall:.6f}"><title>{esc(_describe(p.precision, p.recall))} at '
                f"score {p.threshold:.3f}</title></circle>"
            )
    if operating is not None:
        precision, recall = operating
        parts.append(
            f'<circle cx="{_x(recall):.2f}" cy="{_y(precision):.2f}" r="7" class="operating-point" '
            f'data-precision="{precision:.6f}" data-recall="{recall:.6f}">'
            f"<title>the model's threshold: {esc(_describe(precision, recall))}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


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
