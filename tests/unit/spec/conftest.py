"""Fixtures for the API model tests."""

from __future__ import annotations

import pytest

from openlookout.spec.loader import ServiceModel, load_service_model


@pytest.fixture
def model() -> ServiceModel:
    return load_service_model()
