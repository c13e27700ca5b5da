"""The one rule for the ``StatusMessage`` member of datasets, models and packaging jobs.

Every description of one of these resources carries a ``StatusMessage``, in every status (clients
written for Lookout for Vision read it without checking that it is there). What a job stored for
the resource wins: a failure's reason, import progress, the current training step. When nothing is
stored the message is the resource's sentence for its status (``service.states`` keeps each
resource's sentences next to its states).
"""

from __future__ import annotations

from collections.abc import Mapping

from openlookout.service.states import DATASET_SENTENCES, MODEL_SENTENCES, PACKAGING_SENTENCES


def status_message(status: str, stored: str | None, sentences: Mapping[str, str]) -> str:
    """``stored`` when there is one, else the sentence for ``status`` (or one made from its name)."""
    if stored:
        return stored
    return sentences.get(status) or _from_status_name(status)


def _from_status_name(status: str) -> str:
    """'SOME_STATE' -> 'Some state.' for a status without a sentence of its own."""
    return status.replace("_", " ").capitalize() + "."


def dataset_status_message(status: str, stored: str | None) -> str:
    """A dataset's StatusMessage: the stored reason or progress, else the status's sentence."""
    return status_message(status, stored, DATASET_SENTENCES)


def model_status_message(status: str, stored: str | None) -> str:
    """A model's StatusMessage: what training or hosting stored, else the status's sentence."""
    return status_message(status, stored, MODEL_SENTENCES)


def packaging_status_message(status: str, stored: str | None) -> str:
    """A packaging job's StatusMessage: a failure's reason, else the status's sentence."""
    return status_message(status, stored, PACKAGING_SENTENCES)
