"""Adapters for the notifier port (`workflows.notifier`): a log, e-mail, a fan-out.

- `LogNotifier` writes each notice to a logger (the default everywhere).
- `SmtpNotifier` sends each notice as an e-mail through an SMTP server (in
  tests, a loopback server run with aiosmtpd). An owner recorded with an
  e-mail address ("Ann Smith <ann@example.org>" or "ann@example.org") is
  the recipient; otherwise the notice goes to `fallback_to` (the programme
  office), or, without one, is logged and dropped.
- `FanOutNotifier` hands each notice to several notifiers.

All are synchronous: they run in the delivery workflow's activity threads.
A failure raises, and the activity retries: delivery is at least once, and
the Message-ID (made from the notice's `notice_id`) lets a reader drop repeats.
"""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr

from workflows.notifier import Notice, Notifier

log = logging.getLogger(__name__)

# Good enough to pick an address out of free text; the SMTP server has the last word.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def owner_address(owner: str | None) -> str | None:
    """The owner as an e-mail recipient ("Name <address>"), or None if it holds no address."""
    if not owner:
        return None
    name, address = parseaddr(owner)
    if not _ADDRESS.fullmatch(address or ""):
        found = _ADDRESS.search(owner)
        if found is None:
            return None
        address = found.group(0)
        name = owner.replace(address, "").strip(" <>()[],;:\"'")
    return formataddr((name, address)) if name else address


class LogNotifier:
    """Writes every notice to a logger."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger = logger or log
        self.level = level

    def send(self, notice: Notice) -> None:
        self.logger.log(
            self.level,
            "%s notice for initiative %s (%s) to %s: %s",
            notice.kind,
            notice.initiative_id,
            notice.title,
            notice.owner or "no owner",
            notice.subject,
            extra={"notice": notice.model_dump(mode="json")},
        )


class SmtpNotifier:
    """Sends every notice as an e-mail, one SMTP connection per notice."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        fallback_to: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.fallback_to = fallback_to
        self.timeout = timeout

    def recipient(self, notice: Notice) -> str | None:
        """The owner's address if the owner string holds one, else the fallback."""
        return owner_address(notice.owner) or self.fallback_to

    def message(self, notice: Notice, to: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = notice.subject
        message["Date"] = formatdate(usegmt=True)
        if notice.notice_id is not None:
            message["Message-ID"] = f"<{notice.notice_id}@quickwins>"
        message["X-Quickwins-Kind"] = notice.kind
        message["X-Quickwins-Initiative"] = str(notice.initiative_id)
        message["X-Quickwins-At"] = notice.at.isoformat()
        message.set_content(notice.body)
        return message

    def send(self, notice: Notice) -> None:
        to = self.recipient(notice)
        if to is None:
            log.warning(
                "no address for %s notice on initiative %s (owner %r): not e-mailed",
                notice.kind,
                notice.initiative_id,
                notice.owner,
            )
            return
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(self.message(notice, to))


class FanOutNotifier:
    """Hands every notice to each notifier in turn.

    Every notifier is tried even when one fails; then the first failure is
    raised, so the activity retries (and the ones that succeeded send again).
    """

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def send(self, notice: Notice) -> None:
        first: Exception | None = None
        for notifier in self.notifiers:
            try:
                notifier.send(notice)
            except Exception as error:  # noqa: BLE001 - raised below, after the others
                log.warning("%s failed on a %s notice: %s", notifier, notice.kind, error)
                first = first or error
        if first is not None:
            raise first
