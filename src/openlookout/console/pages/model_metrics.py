"""A model's metrics (``/projects/{name}/models/{version}/metrics``) and its per-image test results.

Precision, recall and F1 are DescribeModel's Performance; ROC AUC, average precision and, for
segmentation, the per-label precision/recall/F1 and mean IoU come from the evaluation result
training wrote. The precision-recall curve is computed from the per-image anomaly scores of the
evaluation manifest (see ``model_evaluation``) with the model's own decisions marked. The results
table filters on ``?show=correct|incorrect``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context
from openlookout.console.pages.models import ASSETS, model_url, percent
from openlookout.console.plots import operating_point, pr_curve, pr_plot_svg
from openlookout.console.render import esc, page, project_nav
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.evaluation import Evaluation, ImageResult, model_evaluation, short_name

FILTERS = ("all", "correct", "incorrect")


def _view(runtime: Runtime, name: str, version: str) -> tuple[dict[str, Any], Evaluation | None]:
    described = call(runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": version})
    return described["ModelDescription"], model_evaluation(runtime, console_context(runtime), name, version)


def _metric(key: str, title: str, value: Any) -> str:
    shown = percent(value) if value is not None else "–"
    data = f' data-value="{float(value):.6f}"' if value is not None else ""
    return f'<tr><th>{esc(title)}</th><td class="metric-{key}"{data}>{shown}</td></tr>'


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN (one class missing) shows as a dash


def _metrics_table(model: dict[str, Any], evaluation: Evaluation) -> str:
    scores = model.get("Performance", {})
    details = evaluation.details
    rows = (
        _metric("f1", "F1 score", scores.get("F1Score"))
        + _metric("precision", "Precision", scores.get("Precision"))
        + _metric("recall", "Recall", scores.get("Recall"))
        + _metric("rocauc", "ROC AUC", _number(evaluation.metrics.get("ROCAUC")))
        + _metric("ap", "Average precision", _number(evaluation.metrics.get("AveragePrecision")))
    )
    counts = (
        f"<p>Trained on {esc(details.get('NumberOfTrainingImages', '?'))} images, tested on "
        f"{esc(details.get('NumberOfTestingImages', '?'))}.</p>"
    )
    return f'<table class="metrics">{rows}</table>{counts}'


def _label_table(evaluation: Evaluation) -> str:
    labels = evaluation.metrics.get("PixelAnomalyClassMetrics")
    if not labels:
        return ""
    rows = "".join(
        f'<tr data-label="{esc(item.get("ClassName", ""))}"><td>{esc(item.get("ClassName", ""))}</td>'
        f'<td class="precision">{percent(_number(item.get("Precision")))}</td>'
        f'<td class="recall">{percent(_number(item.get("Recall")))}</td>'
        f'<td class="f1">{percent(_number(item.get("F1Score")))}</td>'
        f'<td class="iou">{percent(_number(item.get("AIOU")))}</td></tr>'
        for item in labels
    )
    return (
        '<h2>Per anomaly type</h2><table class="label-metrics"><thead><tr><th>Anomaly type</th>'
        "<th>Precision</th><th>Recall</th><th>F1</th><th>Mean IoU</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _plot(evaluation: Evaluation) -> str:
    truth = [r.truth == "anomaly" for r in evaluation.results]
    points = pr_curve([r.score for r in evaluation.results], truth)
    operating = operating_point([r.predicted == "anomaly" for r in evaluation.results], truth)
    if not points:
        return "<h2>Precision-recall</h2><p>The test set holds no anomalous image, so there is no curve.</p>"
    return (
        '<h2>Precision-recall</h2><figure class="pr">'
        + pr_plot_svg(points, operating)
        + "<figcaption>Each dot is one score threshold over the test images; the ring is the model's "
        "own threshold.</figcaption></figure>"
    )


def _results_table(name: str, version: str, results: list[ImageResult], shown: str) -> str:
    links = " ".join(
        f'<a href="?show={key}#results"{" aria-current=page" if key == shown else ""}>{key}</a>'
        for key in FILTERS
    )
    chosen = [r for r in results if shown == "all" or r.correct == (shown == "correct")]
    rows = []
    for r in chosen:
        thumb = (
            f'<img src="/console/thumbs/{esc(r.entry.image_sha256)}.jpg" alt="" loading="lazy">'
            if r.entry
            else ""
        )
        verdict = "correct" if r.correct else "incorrect"
        link = esc(model_url(name, version, f"/results/{r.number}"))
        rows.append(
            f'<tr class="result {verdict}" data-number="{r.number}"><td><a href="{link}">{thumb}</a></td>'
            f'<td><a href="{link}">{esc(short_name(r.source_ref))}</a></td>'
            f'<td class="truth">{esc(r.truth)}</td>'
            f'<td class="predicted">{esc(r.predicted)}</td><td class="confidence">{r.confidence:.3f}</td>'
            f'<td class="verdict">{verdict}</td></tr>'
        )
    wrong = sum(1 for r in results if not r.correct)
    return (
        f'<section id="results"><h2>Test results</h2><p>{len(results)} test images, {wrong} incorrect. '
        f"Show: {links}</p>"
        '<table class="results"><thead><tr><th></th><th>Image</th><th>Truth</th><th>Predicted</th>'
        f"<th>Confidence</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


async def metrics_page(runtime: Runtime, request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    nav = project_nav(name, "models")
    title = f"Model version {version}: metrics"
    back = f'<p><a href="{esc(model_url(name, version))}">Back to the model</a></p>'
    try:
        model, evaluation = await run_in_threadpool(_view, runtime, name, version)
    except ServiceError as exc:
        return page(title, back, error=exc.message, status_code=exc.status, nav=nav)
    if evaluation is None:
        body = (
            back + f"<p>The model is {esc(model['Status'])}; metrics appear once training has finished.</p>"
        )
        return page(title, body, nav=nav, scripts=ASSETS)
    shown = request.query_params.get("show", "all")
    shown = shown if shown in FILTERS else "all"
    body = (
        back
        + _metrics_table(model, evaluation)
        + _label_table(evaluation)
        + _plot(evaluation)
        + _results_table(name, version, evaluation.results, shown)
    )
    return page(title, body, nav=nav, scripts=ASSETS)


def routes(bind: Binder) -> list[BaseRoute]:
    """The metrics page."""
    return [PageRoute("/projects/{name}/models/{version}/metrics", bind(metrics_page), methods=["GET"])]
