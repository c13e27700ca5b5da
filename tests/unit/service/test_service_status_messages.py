"""The StatusMessage rule: a stored message wins, else the resource's sentence for its status; every
status the API model lists for datasets, models and packaging jobs has a sentence of its own."""

from __future__ import annotations

import pytest

from openlookout.service import states
from openlookout.service.datasets import dataset_metadata
from openlookout.service.status_messages import status_message
from openlookout.spec.loader import load_service_model

SENTENCES_BY_ENUM = {
    "DatasetStatus": states.DATASET_SENTENCES,
    "ModelStatus": states.MODEL_SENTENCES,
    "ModelPackagingJobStatus": states.PACKAGING_SENTENCES,
}
STATES_BY_ENUM = {
    "DatasetStatus": states.DatasetStatus,
    "ModelStatus": states.ModelStatus,
    "ModelPackagingJobStatus": states.PackagingStatus,
}


@pytest.mark.parametrize("enum_name", sorted(SENTENCES_BY_ENUM))
def test_every_status_of_the_api_model_has_a_sentence(enum_name: str) -> None:
    statuses = set(load_service_model().shape(enum_name).enum)
    sentences = SENTENCES_BY_ENUM[enum_name]
    assert statuses and set(sentences) == statuses
    assert all(sentence.strip() for sentence in sentences.values())


@pytest.mark.parametrize("enum_name", sorted(STATES_BY_ENUM))
def test_each_state_enum_spells_the_api_models_statuses(enum_name: str) -> None:
    statuses = set(load_service_model().shape(enum_name).enum)
    assert {str(member) for member in STATES_BY_ENUM[enum_name]} == statuses


def test_a_stored_message_wins_over_the_sentence() -> None:
    sentences = {"CREATE_FAILED": "Dataset creation failed."}
    assert status_message("CREATE_FAILED", "line 3: not JSON", sentences) == "line 3: not JSON"
    assert status_message("CREATE_FAILED", None, sentences) == "Dataset creation failed."
    assert status_message("CREATE_FAILED", "", sentences) == "Dataset creation failed."


def test_a_status_without_a_sentence_gets_one_from_its_name() -> None:
    assert status_message("SOMETHING_NEW", None, {}) == "Something new."


def test_dataset_metadata_always_has_a_status_message() -> None:
    metadata = dataset_metadata("train", 1.0, states.DatasetStatus.UPDATE_COMPLETE, None)
    assert metadata == {
        "DatasetType": "train",
        "CreationTimestamp": 1.0,
        "Status": "UPDATE_COMPLETE",
        "StatusMessage": "Dataset updated.",
    }
    progress = dataset_metadata("train", 1.0, states.DatasetStatus.CREATE_IN_PROGRESS, "importing 3/9")
    assert progress["StatusMessage"] == "importing 3/9"
