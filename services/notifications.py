"""Adapters for the notifier port (`workflows.notifier`): a log, e-mail, a fan-out.

- `LogNotifier` writes each notice to a logger (the default everywhere).
- `SmtpNotifier` sends each notice as an e-mail through an SMTP server (in
  tests, a loopback server run with aiosmtpd). An owner with an e-mail
  address (the notice's `recipient`, looked up at send time) is the
  recipient; otherwise (no address, no owner, an erased owner) the notice
  goes to `fallback_to` (the programme office), or, without one, is logged
  and dropped.

Logs name the owner by id, never by name or address.
- `FanOutNotifier` hands each notice to several notifiers.

All are synchronous: they run in the delivery workflow's activity threads.
A failure raises, and the activity retries: delivery is at least once, and
the Message-ID (made from the notice's `notice_id`) lets a reader drop repeats.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from workflows.notifier import Notice, Notifier

log = logging.getLogger(__name__)


def _owner(notice: Notice) -> str:
    """How a log line names the owner: by id."""
    return f"owner {notice.owner_id}" if notice.owner_id else "no owner"


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
            _owner(notice),
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
        """The owner's address if they have one (and are not erased), else the fallback."""
        address = notice.recipient.address if notice.recipient else None
        return address or self.fallback_to

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
                "no address for %s notice on initiative %s (%s): not e-mailed",
                notice.kind,
                notice.initiative_id,
                _owner(notice),
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
                # The error type only: a mail error may quote the address.
                log.warning(
                    "%s failed on a %s notice: %s", notifier, notice.kind, type(error).__name__
                )
                first = first or error
        if first is not None:
            raise first
