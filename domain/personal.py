"""Personal data: kept apart so it can be encrypted per person and shredded.

The domain only wraps it; the services layer encrypts each `Personal` value
with a key of that person's own when it is stored, and erasing the person
deletes the key, after which the stored value reads back as erased.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

ERASED_NAME = "erased participant"


@dataclass(frozen=True)
class Personal:
    """Fields about one person (name, organisation, e-mail), or the fact they were erased."""

    subject_id: UUID
    fields: Mapping[str, str] = field(default_factory=dict)
    erased: bool = False

    def get(self, name: str) -> str:
        return "" if self.erased else self.fields.get(name, "")
