"""The domain's own errors. Each maps to one HTTP status in `api/problems.py`, once."""

from __future__ import annotations

from collections.abc import Callable


class DomainError(Exception):
    """Base class: a business failure, never a bug."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The object does not exist, or lies outside the caller's scope (no existence leaks)."""


class Forbidden(DomainError):
    """The caller's role may never do this (an auditor writing, a company reviewing)."""


class Conflict(DomainError):
    """409: a stale version, a duplicate natural key, or a lifecycle transition not allowed."""


class StaleVersion(Conflict):
    """The client's If-Match version is not the current version."""


class DuplicateKey(Conflict):
    """A natural key (NIB, Idempotency-Key with another body) is already taken."""


class TransitionForbidden(Conflict):
    """The lifecycle forbids this transition (confirming a terminated partnership)."""


class FieldError:
    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidValue(DomainError):
    """422: one or more field values are invalid."""

    def __init__(self, errors: list[FieldError] | FieldError) -> None:
        self.errors = errors if isinstance(errors, list) else [errors]
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @classmethod
    def single(cls, field: str, message: str) -> InvalidValue:
        return cls([FieldError(field, message)])


def collect(*checks: Callable[[], object]) -> list[FieldError]:
    """Run every check and gather all field errors, so a client sees every problem at once."""
    errors: list[FieldError] = []
    for check in checks:
        try:
            check()
        except InvalidValue as e:
            errors.extend(e.errors)
    return errors
