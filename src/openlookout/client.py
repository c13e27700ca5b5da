"""A real boto3 ``lookoutvision`` client pointed at an OpenLookout server.

Current botocore no longer ships the Lookout for Vision model, so the client is built from a
session whose loader also searches this package's ``spec/data`` folder; callers need not set
``AWS_DATA_PATH``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from openlookout.spec.loader import model_data_dir


def model_data_path() -> Path:
    """The folder to add to botocore's data path (holds ``lookoutvision/2020-11-20/``)."""
    return model_data_dir()


def lookoutvision_client(
    endpoint_url: str,
    *,
    region_name: str = "us-east-1",
    aws_access_key_id: str = "openlookout",
    aws_secret_access_key: str = "openlookout",
    session: boto3.Session | None = None,
    **config: Any,
) -> Any:
    """A boto3 client for ``endpoint_url``; extra keyword arguments become a botocore ``Config``."""
    session = session or boto3.Session()
    loader = session._session.get_component("data_loader")
    data_path = str(model_data_path())
    if data_path not in loader.search_paths:
        loader.search_paths.append(data_path)
    make_client: Any = session.client  # the type stubs know no "lookoutvision" (botocore dropped it)
    return make_client(
        "lookoutvision",
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        config=Config(**config) if config else None,
    )
