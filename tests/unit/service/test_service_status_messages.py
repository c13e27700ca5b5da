"""The StatusMessage rule: a stored message wins, else the resource's sentence for its status; every
status the API model lists for datasets, models and packaging jobs has a sentence of its own."""

from __future__ import annotations

import pytest

from openlookout.service import dataset_states, models, packaging
from openlookout.service.status_messages import status_message
from openlookout.spec.loader import load_service_model

SENTENCES_BY_ENUM = {
    "DatasetStatus": dataset_states.STATUS_SENTENCES,
    "ModelStatus": models.STATUS_SENTENCES,
    "ModelPackagingJobStatus": packaging.STATUS_SENTENCES,
}


@pytest.mark.parametrize("enum_name", sorted(SENTENCES_BY_ENUM))
def test_every_status_of_the_api_model_has_a_sentence(enum_name: str) -> None:
    statuses = set(load_service_model().shape(enum_name).enum)
    sentences = SENTENCES_BY_ENUM[enum_name]
    assert statuses and set(sentences) == statuses
    assert all(sentence.strip() for sentence in sentences.values())


def test_a_stored_message_wins_over_the_sentence() -> None:
    sentences = {"CREATE_FAILED": "Dataset creation failed."}
    assert status_message("CREATE_FAILED", "line 3: not JSON", sentences) == "line 3: not JSON"
    assert status_message("CREATE_FAILED", None, sentences) == "Dataset creation failed."
    assert status_message("CREATE_FAILED", "", sentences) == "Dataset creation failed."


def test_a_status_without_a_sentence_gets_one_from_its_name() -> None:
    assert status_message("SOMETHING_NEW", None, {}) == "Something new."


def test_dataset_metadata_always_has_a_status_message() -> None:
    metadata = dataset_states.dataset_metadata("train", 1.0, dataset_states.UPDATE_COMPLETE, None)
    assert metadata == {
        "DatasetType": "train",
        "CreationTimestamp": 1.0,
        "Status": "UPDATE_COMPLETE",
        "StatusMessage": "Dataset updated.",
    }
    progress = dataset_states.dataset_metadata(
        "train", 1.0, dataset_states.CREATE_IN_PROGRESS, "importing 3/9"
    )
    assert progress["StatusMessage"] == "importing 3/9"
