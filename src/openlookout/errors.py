"""The service's error shapes, named exactly like the API model's seven exception structures.

Raised anywhere below the API layer; turned into the AWS error wire format in one place
(``openlookout.api.errors``). Nothing else lives here.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """Base of every error the API answers with; ``code`` and ``status`` go on the wire."""

    code: ClassVar[str] = "InternalServerException"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **fields: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str | int] = {k: v for k, v in fields.items() if v is not None}


class AccessDeniedException(ServiceError):
    code, status = "AccessDeniedException", 403


class ValidationException(ServiceError):
    code, status = "ValidationException", 400


class ConflictException(ServiceError):
    code, status = "ConflictException", 409

    def __init__(self, message: str, *, resource_id: str, resource_type: str) -> None:
        super().__init__(message, ResourceId=resource_id, ResourceType=resource_type)


class ResourceNotFoundException(ServiceError):
    code, status = "ResourceNotFoundException", 404

    def __init__(self, message: str, *, resource_id: str, resource_type: str) -> None:
        super().__init__(message, ResourceId=resource_id, ResourceType=resource_type)


class ServiceQuotaExceededException(ServiceError):
    code, status = "ServiceQuotaExceededException", 402

    def __init__(
        self,
        message: str,
        *,
        quota_code: str,
        resource_id: str | None = None,
        resource_type: str | None = None,
    ) -> None:
        super().__init__(
            message,
            QuotaCode=quota_code,
            ServiceCode="lookoutvision",
            ResourceId=resource_id,  # type: ignore[arg-type]
            ResourceType=resource_type,  # type: ignore[arg-type]
        )


class ThrottlingException(ServiceError):
    code, status = "ThrottlingException", 429

    def __init__(self, message: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(message, RetryAfterSeconds=retry_after_seconds)


class InternalServerException(ServiceError):
    code, status = "InternalServerException", 500

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message, RetryAfterSeconds=retry_after_seconds)  # type: ignore[arg-type]


ERROR_TYPES: tuple[type[ServiceError], ...] = (
    AccessDeniedException,
    ValidationException,
    ConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ThrottlingException,
    InternalServerException,
)
