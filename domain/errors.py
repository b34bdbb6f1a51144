"""Typed domain errors: every broken rule raises one, and nothing is recorded."""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken. `field` names the input at fault, where there is one."""

    code = "domain-error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = "invalid-input"


class WrongPhase(DomainError):
    code = "wrong-phase"


class UnknownId(DomainError):
    code = "unknown-id"


class AlreadyExists(DomainError):
    code = "already-exists"


class DuplicateSignUp(AlreadyExists):
    code = "duplicate-sign-up"


class DuplicateBallot(AlreadyExists):
    code = "duplicate-ballot"


class GroupFull(DomainError):
    code = "group-full"


class ForeignProject(DomainError):
    code = "foreign-project"


class OverBudget(DomainError):
    code = "over-budget"


class ScoreOutOfRange(DomainError):
    code = "score-out-of-range"


class NotAllowed(DomainError):
    """The actor may not do this (for example, edit someone else's idea)."""

    code = "not-allowed"
