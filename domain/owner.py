"""An initiative's owner: a person, known to the log only by a pseudonymous id.

The owner's name and e-mail address travel inside `personal` (encrypted
with the owner's own key by the services layer); every other event names
the owner by id. Erasing the owner records `Erased` and, in the services
layer, deletes the key: the name and address are then gone from every
replay, while the trail still shows that an (erased) owner held the work.
"""

from __future__ import annotations

import re
from email.utils import formataddr, parseaddr
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .meta import Meta, derive_id
from .personal import Personal
from .text import NAME_MAX, require_text

ERASED_OWNER = "erased owner"

# Good enough to pick an address out of free text; a mail server has the last word.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def split_owner(text: str) -> tuple[str, str]:
    """The name and e-mail address in an owner's text ("Ann <ann@example.org>").

    The address is "" when the text holds none; the name is the text without
    the address, or the address itself when nothing else is left.
    """
    text = " ".join(text.split())
    name, address = parseaddr(text)
    if not _ADDRESS.fullmatch(address or ""):
        found = _ADDRESS.search(text)
        if found is None:
            return text, ""
        address = found.group(0)
        name = text.replace(address, "").strip(" <>()[],;:\"'")
    name = " ".join(name.split())
    return (name or address), address


def owner_key(text: str) -> str:
    """What names the same person twice: the e-mail address, else the casefolded name."""
    name, address = split_owner(text)
    return address.casefold() if address else name.casefold()


def owner_id(programme_id: UUID, key: str) -> UUID:
    """One owner per programme and key (see `owner_key`)."""
    return derive_id("owner", programme_id, key)


class Owner(Aggregate):
    class Registered(Aggregate.Created):
        """The name and address travel encrypted, inside `personal`."""

        programme_id: UUID
        personal: Personal
        meta: Meta

    @event(Registered)
    def __init__(
        self,
        id: UUID,  # noqa: A002
        programme_id: UUID,
        personal: Personal,
        meta: Meta,
    ) -> None:
        self.programme_id = programme_id
        self.personal = personal

    @property
    def erased(self) -> bool:
        return self.personal.erased

    @property
    def name(self) -> str:
        return ERASED_OWNER if self.erased else self.personal.get("name")

    @property
    def email(self) -> str:
        return self.personal.get("email")

    @property
    def address(self) -> str | None:
        """The owner as an e-mail recipient ("Name <address>"), or None without an address."""
        if not self.email:
            return None
        return formataddr((self.name, self.email)) if self.name != self.email else self.email

    def erase(self, meta: Meta) -> None:
        """Right to erasure: the trail keeps that someone owned the work, not who."""
        if not self.erased:
            self._erased(meta=meta)

    @event("Erased")
    def _erased(self, meta: Meta) -> None:
        self.personal = Personal(self.id, erased=True)


def identify(programme_id: UUID, text: str) -> UUID:
    """The id of the owner a manager's text names ("Ann Smith <ann@example.org>")."""
    return owner_id(programme_id, owner_key(require_text("owner", text, NAME_MAX)))


def register(programme_id: UUID, text: str, meta: Meta) -> Owner:
    """A new owner from the text a manager typed ("Ann Smith <ann@example.org>")."""
    text = require_text("owner", text, NAME_MAX)
    name, address = split_owner(text)
    person = identify(programme_id, text)
    personal = Personal(person, {"name": name, "email": address})
    return Owner(id=person, programme_id=programme_id, personal=personal, meta=meta)
