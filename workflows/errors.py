"""How a broken domain rule crosses into Temporal: one place for every activity."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from domain.errors import DomainError


def rule_broken(error: DomainError) -> ApplicationError:
    """A non-retryable failure typed by the rule's code: retrying cannot fix bad input."""
    return ApplicationError(
        error.message,
        {"code": error.code, "field": error.field},
        type=error.code,
        non_retryable=True,
    )
