"""The notifier port: how the delivery workflow's notices leave the system.

A `Notice` is plain data that the workflow composes (deterministically) and
an activity hands to a `Notifier`. The services layer provides the adapters
(`services.notifications`: a log, e-mail over SMTP, a fan-out to several);
webhooks later plug in behind the same port.

Delivery is at least once: an activity that fails after some adapter has
sent the notice is retried, so a receiver may see a notice twice. Each notice
the workflow sends carries a stable `notice_id` (the same on every retry), so
a receiver that cares can drop repeats (the SMTP adapter makes it the
Message-ID).

A notice names the owner by id only, so a workflow's history never holds
an owner's name or address. The notify activity looks the owner up when it
sends and hands the notifier the notice with its `recipient` filled in; that
field is left out of every dump of the notice (`exclude=True`), so a log line
or a serialised notice carries the id, not the person. An erased owner has
no address: their notices go to the fallback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

NoticeKind = Literal[
    "milestone-reminder",
    "milestone-overdue",
    "progress-request",
    "stale",
    "benefits-review",
]
NOTICE_KINDS: tuple[NoticeKind, ...] = (
    "milestone-reminder",
    "milestone-overdue",
    "progress-request",
    "stale",
    "benefits-review",
)


class Recipient(BaseModel):
    """The owner as they are at send time (an erased owner: the marker, no address)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    address: str | None = Field(description='"Name <address>", or None without one')


class Notice(BaseModel):
    """One message to an initiative's owner: what it is about, and when (scenario time)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: NoticeKind
    initiative_id: UUID
    title: str = Field(description="the initiative's title")
    owner_id: UUID | None = Field(description="the owner's id; None while unassigned")
    subject: str
    body: str
    at: datetime = Field(description="the scenario time the notice is about")
    notice_id: UUID | None = Field(
        default=None, description="stable across retries of the same notice, for dropping repeats"
    )
    recipient: Recipient | None = Field(
        default=None,
        exclude=True,
        description="filled in by the notify activity at send time; never dumped",
    )


class Notifier(Protocol):
    """Sends a notice somewhere. Synchronous: it runs in an activity's thread."""

    def send(self, notice: Notice) -> None: ...
