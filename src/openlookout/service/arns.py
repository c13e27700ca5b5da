"""Amazon Resource Names for our resources: building them from the caller's scope, parsing model ARNs.

Formats (partition always ``aws``, service ``lookoutvision``):

* project: ``arn:aws:lookoutvision:<region>:<account>:project/<ProjectName>``
* model:   ``arn:aws:lookoutvision:<region>:<account>:model/<ProjectName>/<ModelVersion>``
"""

from __future__ import annotations

import re
from typing import NamedTuple

from openlookout.errors import ValidationException
from openlookout.service.context import RequestContext

PARTITION = "aws"
SERVICE = "lookoutvision"

_PROJECT_NAME = r"[a-zA-Z0-9][a-zA-Z0-9_\-]{0,254}"
_MODEL_ARN = re.compile(
    rf"arn:(?P<partition>[a-z][a-z0-9-]*):{SERVICE}:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}}):"
    rf"model/(?P<project>{_PROJECT_NAME})/(?P<version>[1-9][0-9]{{0,9}})"
)
_PROJECT_ARN = re.compile(
    rf"arn:(?P<partition>[a-z][a-z0-9-]*):{SERVICE}:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}}):"
    rf"project/(?P<project>{_PROJECT_NAME})"
)


class ModelArnParts(NamedTuple):
    """The pieces of a model ARN, in the order ``parse_model_arn`` returns them."""

    region: str
    account: str
    project: str
    version: str


def project_arn(ctx: RequestContext, name: str) -> str:
    """The ARN of project ``name`` in the caller's account and region."""
    return f"arn:{PARTITION}:{SERVICE}:{ctx.region}:{ctx.account_id}:project/{name}"


def model_arn(ctx: RequestContext, project: str, version: str | int) -> str:
    """The ARN of model ``version`` of ``project`` in the caller's account and region."""
    return f"arn:{PARTITION}:{SERVICE}:{ctx.region}:{ctx.account_id}:model/{project}/{version}"


def model_arn_prefix(ctx: RequestContext, project: str) -> str:
    """The common start of every model ARN of ``project`` (used to clean up per-model data)."""
    return f"arn:{PARTITION}:{SERVICE}:{ctx.region}:{ctx.account_id}:model/{project}/"


def parse_model_arn(arn: str) -> ModelArnParts:
    """Split a model ARN into (region, account, project, version); anything else is a ValidationException."""
    match = _MODEL_ARN.fullmatch(arn)
    if match is None:
        if _PROJECT_ARN.fullmatch(arn):
            raise ValidationException(
                f"Only models can be tagged; '{arn}' is a project ARN. "
                "Expected arn:aws:lookoutvision:<region>:<account>:model/<project>/<version>."
            )
        raise ValidationException(
            f"'{arn}' is not a Lookout for Vision model ARN. "
            "Expected arn:aws:lookoutvision:<region>:<account>:model/<project>/<version>."
        )
    return ModelArnParts(match["region"], match["account"], match["project"], match["version"])
