"""A model's metrics (``/projects/{name}/models/{version}/metrics``) and its per-image test results.

Precision, recall and F1 are DescribeModel's Performance; ROC AUC, average precision and, for
segmentation, the per-label precision/recall/F1 and mean IoU come from the evaluation result
training wrote. The precision-recall curve is computed from the per-image anomaly scores of the
evaluation manifest (``service.evaluation``) with the model's own decisions marked. The results
table filters on ``?show=correct|incorrect``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, console_context
from openlookout.console.pages.models import model_context
from openlookout.console.plots import operating_point, plot_layout, pr_curve
from openlookout.console.routing import Binder, PageRoute
from openlookout.console.templating import render
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime
from openlookout.service.evaluation import Evaluation, model_evaluation

FILTERS = ("all", "correct", "incorrect")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN (one class missing) shows as a dash


def _plot(evaluation: Evaluation) -> dict[str, Any] | None:
    """The precision-recall plot's layout; None without an anomalous test image (no curve)."""
    truth = [r.truth == "anomaly" for r in evaluation.results]
    points = pr_curve([r.score for r in evaluation.results], truth)
    if not points:
        return None
    return plot_layout(points, operating_point([r.predicted == "anomaly" for r in evaluation.results], truth))


def metrics_page(runtime: Runtime, request: Request) -> Response:
    name, version = request.path_params["name"], request.path_params["version"]
    shown = request.query_params.get("show", "all")
    context: dict[str, Any] = {
        "title": f"Model version {version}: metrics",
        **model_context(name),
        "version": version,
        "shown": shown if shown in FILTERS else "all",
        "filters": FILTERS,
    }
    try:
        model = call(runtime, "DescribeModel", {"ProjectName": name, "ModelVersion": version})[
            "ModelDescription"
        ]
        evaluation = model_evaluation(runtime, console_context(), name, version)
    except ServiceError as exc:
        failed = {**context, "model": None, "evaluation": None}
        return render(request, "model_metrics.html", failed, refused=exc)
    context.update(model=model, evaluation=evaluation)
    if evaluation is not None:
        metrics = evaluation.metrics
        context.update(
            rocauc=_number(metrics.get("ROCAUC")),
            average_precision=_number(metrics.get("AveragePrecision")),
            labels=[
                {key: _number(item.get(key)) for key in ("Precision", "Recall", "F1Score", "AIOU")}
                | {"name": item.get("ClassName", "")}
                for item in metrics.get("PixelAnomalyClassMetrics") or []
            ],
            plot=_plot(evaluation),
            wrong=sum(1 for r in evaluation.results if not r.correct),
        )
    return render(request, "model_metrics.html", context)


def routes(console: Binder) -> list[BaseRoute]:
    """The metrics page."""
    path = "/projects/{name}/models/{version}/metrics"
    return [PageRoute(path, console.page(metrics_page), methods=["GET"], name="model_metrics")]
