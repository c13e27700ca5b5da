"""Edge packages of a model version: its packaging jobs and the parameters of a new one.

The model page's form builds StartModelPackagingJob's Greengrass configuration (component name and
version, output location, a target platform or device, compiler options); the service checks it.
Jobs are listed with ListModelPackagingJobs and described with DescribeModelPackagingJob for their
output; the page reloads itself while a job is running.
"""

from __future__ import annotations

from typing import Any

from openlookout.console.calls import call, every_page
from openlookout.service.context import Runtime

# Form value -> (title, the Greengrass target it stands for).
TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    "linux-x86_64": ("Linux x86_64 (CPU)", {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}),
    "linux-arm64": ("Linux ARM64 (CPU)", {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"}}),
    "linux-arm64-nvidia": (
        "Linux ARM64 with NVIDIA GPU",
        {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}},
    ),
    "linux-x86_64-nvidia": (
        "Linux x86_64 with NVIDIA GPU",
        {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}},
    ),
    "jetson_xavier": ("NVIDIA Jetson Xavier (device)", {"TargetDevice": "jetson_xavier"}),
}
DEFAULT_TARGET = "linux-x86_64"
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


def packaging_jobs(runtime: Runtime, name: str, version: str) -> list[dict[str, Any]]:
    """The descriptions of the packaging jobs of model ``version``, newest first."""
    jobs = every_page(runtime, "ListModelPackagingJobs", {"ProjectName": name}, "ModelPackagingJobs")
    described = [
        call(runtime, "DescribeModelPackagingJob", {"ProjectName": name, "JobName": j["JobName"]})[
            "ModelPackagingDescription"
        ]
        for j in jobs
        if j.get("ModelVersion") == version
    ]
    return sorted(described, key=lambda d: float(d.get("CreationTimestamp", 0)), reverse=True)


def job_output(job: dict[str, Any]) -> str:
    """Where a job writes and, once it is done, the component it made."""
    greengrass = job.get("ModelPackagingConfiguration", {}).get("Greengrass", {})
    location = greengrass.get("S3OutputLocation", {})
    text = f"s3://{location.get('Bucket', '')}/{location.get('Prefix', '')}"
    details = job.get("ModelPackagingOutputDetails", {}).get("Greengrass", {})
    if details:
        text += f" · {details.get('ComponentName', '')} {details.get('ComponentVersion', '')}"
        if details.get("ComponentVersionArn"):
            text += f" · {details['ComponentVersionArn']}"
    return text


def packaging_params(name: str, version: str, values: dict[str, str]) -> dict[str, Any]:
    """StartModelPackagingJob's parameters for the form's ``values`` (empty fields left out)."""
    location: dict[str, Any] = {"Bucket": values["bucket"]}
    if values["prefix"]:
        location["Prefix"] = values["prefix"]
    target = TARGETS.get(values["target"], TARGETS[DEFAULT_TARGET])[1]
    greengrass: dict[str, Any] = {
        "ComponentName": values["component"],
        "S3OutputLocation": location,
        **target,
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
