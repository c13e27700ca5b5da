"""Edge packages of a model version: its packaging jobs and the form to start one.

The form builds StartModelPackagingJob's Greengrass configuration (component name and version,
output location, a target platform or device, compiler options); the service checks it and its
message shows on the model page. Jobs are listed with ListModelPackagingJobs and described with
DescribeModelPackagingJob for their output; the page reloads itself while a job is running.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from openlookout.console.calls import call, every_page
from openlookout.console.forms import first, read_form
from openlookout.console.render import esc, url_part, when
from openlookout.console.routing import Binder, PageRoute
from openlookout.errors import ServiceError
from openlookout.service.context import Runtime

PACKABLE = ("TRAINED", "HOSTED")
RUNNING_JOBS = ("CREATED", "RUNNING")
# Form value -> the Greengrass target it stands for.
TARGETS: dict[str, dict[str, Any]] = {
    "linux-x86_64": {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}},
    "linux-arm64": {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"}},
    "linux-arm64-nvidia": {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}},
    "linux-x86_64-nvidia": {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}},
    "jetson_xavier": {"TargetDevice": "jetson_xavier"},
}
TARGET_TITLES = {
    "linux-x86_64": "Linux x86_64 (CPU)",
    "linux-arm64": "Linux ARM64 (CPU)",
    "linux-arm64-nvidia": "Linux ARM64 with NVIDIA GPU",
    "linux-x86_64-nvidia": "Linux x86_64 with NVIDIA GPU",
    "jetson_xavier": "NVIDIA Jetson Xavier (device)",
}
FIELDS = (
    "job_name",
    "component",
    "component_version",
    "description",
    "bucket",
    "prefix",
    "target",
    "compiler",
)


def packaging_view(runtime: Runtime, name: str, version: str) -> list[dict[str, Any]]:
    """The descriptions of the packaging jobs of model ``version``, newest first."""
    jobs = every_page(runtime, "ListModelPackagingJobs", {"ProjectName": name}, "ModelPackagingJobs")
    mine = [j for j in jobs if j.get("ModelVersion") == version]
    described = [
        call(runtime, "DescribeModelPackagingJob", {"ProjectName": name, "JobName": j["JobName"]})[
            "ModelPackagingDescription"
        ]
        for j in mine
    ]
    return sorted(described, key=lambda d: float(d.get("CreationTimestamp", 0)), reverse=True)


def _output(job: dict[str, Any]) -> str:
    greengrass = job.get("ModelPackagingConfiguration", {}).get("Greengrass", {})
    location = greengrass.get("S3OutputLocation", {})
    text = f"s3://{location.get('Bucket', '')}/{location.get('Prefix', '')}"
    details = job.get("ModelPackagingOutputDetails", {}).get("Greengrass", {})
    if details:
        text += f" · {details.get('ComponentName', '')} {details.get('ComponentVersion', '')}"
        if details.get("ComponentVersionArn"):
            text += f" · {details['ComponentVersionArn']}"
    return text


def _job_rows(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "<p>No packaging jobs for this model yet.</p>"
    rows = "".join(
        f'<tr data-job="{esc(j["JobName"])}"><td>{esc(j["JobName"])}</td>'
        f'<td class="job-status">{esc(j["Status"])}</td><td>{esc(j.get("StatusMessage", ""))}</td>'
        f'<td>{esc(when(j.get("CreationTimestamp")))}</td><td class="job-output">{esc(_output(j))}</td></tr>'
        for j in jobs
    )
    reload = ' data-reload-after="2"' if any(j["Status"] in RUNNING_JOBS for j in jobs) else ""
    return (
        f'<table class="packaging-jobs"{reload}><thead><tr><th>Job</th><th>Status</th><th>Message</th>'
        f"<th>Created</th><th>Output</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _form(name: str, version: str, values: dict[str, str]) -> str:
    chosen = values.get("target") or "linux-x86_64"
    options = "".join(
        f'<option value="{key}"{" selected" if key == chosen else ""}>{esc(title)}</option>'
        for key, title in TARGET_TITLES.items()
    )

    def field(key: str, label: str, hint: str = "") -> str:
        return (
            f'<label>{esc(label)} <input name="{key}" value="{esc(values.get(key, ""))}"'
            f' placeholder="{esc(hint)}"></label>'
        )

    action = f"/projects/{url_part(name)}/models/{url_part(version)}/packages"
    return (
        f'<form method="post" action="{esc(action)}" class="stacked package-form">'
        + field("component", "Component name", "com.example.detector")
        + field("component_version", "Component version", f"{version}.0.0 when empty")
        + field("job_name", "Job name", "generated when empty")
        + field("description", "Description")
        + field("bucket", "Output S3 bucket", "my-bucket")
        + field("prefix", "Output prefix", "packages/")
        + f'<label>Target <select name="target">{options}</select></label>'
        + field("compiler", "Compiler options (JSON)", '{"mcpu": "core-avx2"}')
        + "<button>Start packaging job</button></form>"
    )


def packaging_section(
    name: str, model: dict[str, Any], jobs: list[dict[str, Any]], values: dict[str, str]
) -> str:
    """The packaging jobs of the model and, when it can be packaged, the form."""
    version = model["ModelVersion"]
    form = (
        _form(name, version, values)
        if model["Status"] in PACKABLE
        else "<p>A model can be packaged once it is TRAINED or HOSTED.</p>"
    )
    return f'<section id="packaging"><h2>Edge packages</h2>{_job_rows(jobs)}{form}</section>'


def packaging_params(name: str, version: str, values: dict[str, str]) -> dict[str, Any]:
    """StartModelPackagingJob's parameters for the form's ``values`` (empty fields left out)."""
    location: dict[str, Any] = {"Bucket": values["bucket"]}
    if values["prefix"]:
        location["Prefix"] = values["prefix"]
    greengrass: dict[str, Any] = {
        "ComponentName": values["component"],
        "S3OutputLocation": location,
        **TARGETS.get(values["target"], TARGETS["linux-x86_64"]),
    }
    if values["component_version"]:
        greengrass["ComponentVersion"] = values["component_version"]
    if values["compiler"]:
        greengrass["CompilerOptions"] = values["compiler"]
    params: dict[str, Any] = {
        "ProjectName": name,
        "ModelVersion": version,
        "Configuration": {"Greengrass": greengrass},
    }
    if values["job_name"]:
        params["JobName"] = values["job_name"]
    if values["description"]:
        params["Description"] = values["description"]
    return params


async def start_packaging(runtime: Runtime, request: Request) -> Response:
    from openlookout.console.pages.model_detail import model_page

    name, version = request.path_params["name"], request.path_params["version"]
    form = await read_form(request)
    values = {key: first(form, key) for key in FIELDS}
    try:
        await run_in_threadpool(
            call, runtime, "StartModelPackagingJob", packaging_params(name, version, values)
        )
    except ServiceError as exc:
        return await model_page(runtime, request, error=exc.message, status_code=exc.status, values=values)
    return RedirectResponse(
        f"/projects/{url_part(name)}/models/{url_part(version)}#packaging", status_code=303
    )


def routes(bind: Binder) -> list[BaseRoute]:
    """Starting a packaging job."""
    return [PageRoute("/projects/{name}/models/{version}/packages", bind(start_packaging), methods=["POST"])]
