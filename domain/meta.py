"""Who did it, when, and why: carried by every event."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

# Namespace for ids derived from natural keys (uuid5), so the same key always
# names the same stream and a second "first" act becomes a conflict.
NAMESPACE = UUID("7f3c1d2e-5b8a-4c61-9e0f-2a4b6c8d0e1f")


class Meta(BaseModel):
    """The actor, the time of the act (given by the caller) and the causal chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str = Field(min_length=1, max_length=200)
    at: datetime
    correlation_id: UUID
    causation_id: UUID


def derive_id(*parts: object) -> UUID:
    """A stable id for a natural key made of the given parts."""
    return uuid5(NAMESPACE, "/".join(str(p) for p in parts))
