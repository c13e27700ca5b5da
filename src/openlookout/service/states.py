"""The states of every resource: one ``StrEnum`` per resource, the sets the rules test, the sentences.

The enums carry the API model's spelling (``DatasetStatus``, ``ModelStatus``,
``ModelPackagingJobStatus``) plus the trial detections' own states. Members are ``str``, so they are
stored and compared as the plain strings the wire and the database hold. Each resource keeps the
sentence its ``StatusMessage`` shows for a status next to its states (the rule that picks a stored
message first lives in ``status_messages``). A leaf module: it imports nothing from OpenLookout.
"""

from __future__ import annotations

from enum import StrEnum


class DatasetStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    CREATE_FAILED = "CREATE_FAILED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    ROLLBACK_IN_PROGRESS = "UPDATE_FAILED_ROLLBACK_IN_PROGRESS"
    ROLLBACK_COMPLETE = "UPDATE_FAILED_ROLLBACK_COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    DELETE_FAILED = "DELETE_FAILED"


# A dataset in one of these can be updated, trained from and counted for readiness.
DATASET_STABLE = frozenset(
    {DatasetStatus.CREATE_COMPLETE, DatasetStatus.UPDATE_COMPLETE, DatasetStatus.ROLLBACK_COMPLETE}
)
# A job is working on the dataset: it cannot be deleted.
DATASET_BUSY = frozenset(
    {
        DatasetStatus.CREATE_IN_PROGRESS,
        DatasetStatus.UPDATE_IN_PROGRESS,
        DatasetStatus.ROLLBACK_IN_PROGRESS,
        DatasetStatus.DELETE_IN_PROGRESS,
    }
)
# An update (or the rollback of a failed one) is still running.
DATASET_UPDATING = frozenset({DatasetStatus.UPDATE_IN_PROGRESS, DatasetStatus.ROLLBACK_IN_PROGRESS})
DATASET_FAILED = frozenset(
    {
        DatasetStatus.CREATE_FAILED,
        DatasetStatus.ROLLBACK_IN_PROGRESS,
        DatasetStatus.ROLLBACK_COMPLETE,
        DatasetStatus.DELETE_FAILED,
    }
)

DATASET_SENTENCES: dict[str, str] = {
    DatasetStatus.CREATE_IN_PROGRESS: "Creating dataset.",
    DatasetStatus.CREATE_COMPLETE: "Dataset created.",
    DatasetStatus.CREATE_FAILED: "Dataset creation failed.",
    DatasetStatus.UPDATE_IN_PROGRESS: "Updating dataset entries.",
    DatasetStatus.UPDATE_COMPLETE: "Dataset updated.",
    DatasetStatus.ROLLBACK_IN_PROGRESS: "The update failed; restoring the previous entries.",
    DatasetStatus.ROLLBACK_COMPLETE: "The update failed; the dataset keeps its previous entries.",
    DatasetStatus.DELETE_IN_PROGRESS: "Deleting dataset.",
    DatasetStatus.DELETE_COMPLETE: "Dataset deleted.",
    DatasetStatus.DELETE_FAILED: "Dataset deletion failed.",
}


class ModelStatus(StrEnum):
    TRAINING = "TRAINING"
    TRAINED = "TRAINED"
    TRAINING_FAILED = "TRAINING_FAILED"
    STARTING_HOSTING = "STARTING_HOSTING"
    HOSTED = "HOSTED"
    HOSTING_FAILED = "HOSTING_FAILED"
    STOPPING_HOSTING = "STOPPING_HOSTING"
    SYSTEM_UPDATING = "SYSTEM_UPDATING"
    DELETING = "DELETING"


MODEL_DELETABLE = frozenset({ModelStatus.TRAINED, ModelStatus.TRAINING_FAILED})
MODEL_STARTABLE = frozenset({ModelStatus.TRAINED, ModelStatus.HOSTING_FAILED})
MODEL_STOPPABLE = frozenset(
    {
        ModelStatus.HOSTED,
        ModelStatus.STARTING_HOSTING,
        ModelStatus.HOSTING_FAILED,
        ModelStatus.SYSTEM_UPDATING,
    }
)
# The model answers DetectAnomalies.
MODEL_SERVING = frozenset({ModelStatus.HOSTED, ModelStatus.SYSTEM_UPDATING})
MODEL_PACKABLE = frozenset({ModelStatus.TRAINED, ModelStatus.HOSTED})
# Training finished, so an ONNX export exists (trial detection and the metrics can use it).
MODEL_TRAINED = frozenset(
    {
        ModelStatus.TRAINED,
        ModelStatus.STARTING_HOSTING,
        ModelStatus.HOSTED,
        ModelStatus.HOSTING_FAILED,
        ModelStatus.STOPPING_HOSTING,
        ModelStatus.SYSTEM_UPDATING,
    }
)
# States a model leaves on its own (pages follow them until they settle).
MODEL_TRANSITIONAL = frozenset(
    {
        ModelStatus.TRAINING,
        ModelStatus.STARTING_HOSTING,
        ModelStatus.STOPPING_HOSTING,
        ModelStatus.DELETING,
        ModelStatus.SYSTEM_UPDATING,
    }
)

MODEL_SENTENCES: dict[str, str] = {
    ModelStatus.TRAINING: "Training the model.",
    ModelStatus.TRAINED: "Training completed successfully.",
    ModelStatus.TRAINING_FAILED: "Training failed.",
    ModelStatus.STARTING_HOSTING: "Hosting the model.",
    ModelStatus.HOSTED: "Model hosted.",
    ModelStatus.HOSTING_FAILED: "Hosting failed.",
    ModelStatus.STOPPING_HOSTING: "Stopping the model.",
    ModelStatus.SYSTEM_UPDATING: "The hosted model is being updated.",
    ModelStatus.DELETING: "Deleting the model.",
}


class PackagingStatus(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


PACKAGING_FINISHED = frozenset({PackagingStatus.SUCCEEDED, PackagingStatus.FAILED})
PACKAGING_ACTIVE = frozenset({PackagingStatus.CREATED, PackagingStatus.RUNNING})

PACKAGING_SENTENCES: dict[str, str] = {
    PackagingStatus.CREATED: "Packaging job created.",
    PackagingStatus.RUNNING: "Building the model package.",
    PackagingStatus.SUCCEEDED: "Model package created.",
    PackagingStatus.FAILED: "Packaging failed.",
}


class TrialStatus(StrEnum):
    """A trial detection (OpenLookout's own resource): RUNNING -> COMPLETED | FAILED."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
