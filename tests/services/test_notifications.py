"""The notifier adapters: a log, e-mail to a loopback SMTP server (aiosmtpd), a fan-out."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller

from domain.meta import Meta
from domain.owner import register
from services.embedded import free_port
from services.notifications import FanOutNotifier, LogNotifier, SmtpNotifier
from workflows.notifier import Notice, Recipient

AT = datetime(2010, 9, 14, 9, 0, tzinfo=UTC)
OWNER_ID = UUID(int=7)
META = Meta(actor="manager", at=AT, correlation_id=UUID(int=1), causation_id=UUID(int=2))


def recipient(owner: str) -> Recipient:
    """The owner as the notify activity hands it over (see DeliveryActivities.notify)."""
    person = register(UUID(int=3), owner, META)
    return Recipient(name=person.name, address=person.address)


def notice(owner: str | None = "Ann Owner <ann@example.org>", **changes: Any) -> Notice:
    fields: dict[str, Any] = {
        "kind": "milestone-reminder",
        "initiative_id": UUID(int=42),
        "title": "Regional workshop for chief executives",
        "owner_id": OWNER_ID if owner is not None else None,
        "subject": "Reminder: 'Venue booked' is due on 17 September 2010",
        "body": "The milestone 'Venue booked' falls due on 17 September 2010.",
        "at": AT,
        "notice_id": uuid4(),
        "recipient": recipient(owner) if owner is not None else None,
    }
    fields.update(changes)
    return Notice(**fields)


class Received:
    """An aiosmtpd handler that keeps each message with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Received]]:
    """An SMTP server on a free loopback port, stopped after the test."""
    received = Received()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_smtp_mails_the_owner(smtp: tuple[int, Received]) -> None:
    port, received = smtp
    sent = notice()
    SmtpNotifier("127.0.0.1", port, "quickwins@example.org", "pmo@example.org").send(sent)

    [(recipients, message)] = received.messages
    assert recipients == ["ann@example.org"]
    assert message["To"] == "Ann Owner <ann@example.org>"
    assert message["From"] == "quickwins@example.org"
    assert message["Subject"] == sent.subject
    assert message["Message-ID"] == f"<{sent.notice_id}@quickwins>"
    assert message["X-Quickwins-Kind"] == "milestone-reminder"
    assert message["X-Quickwins-Initiative"] == str(UUID(int=42))
    assert message["X-Quickwins-At"] == AT.isoformat()
    assert message["Date"]
    assert message.get_content().strip() == sent.body


def test_smtp_falls_back_when_the_owner_has_no_address(
    smtp: tuple[int, Received], caplog: pytest.LogCaptureFixture
) -> None:
    port, received = smtp
    office = SmtpNotifier("127.0.0.1", port, "quickwins@example.org", "pmo@example.org")
    office.send(notice(owner="Bob from the council"))
    office.send(notice(owner=None, kind="stale", subject="Stale: no progress report"))
    # An erased owner: the notify activity hands over the marker and no address.
    office.send(notice(recipient=Recipient(name="erased owner", address=None)))
    assert [r for r, _ in received.messages] == [["pmo@example.org"]] * 3
    assert received.messages[1][1]["Subject"] == "Stale: no progress report"

    # With nowhere to send it, the notice is logged and dropped.
    nobody = SmtpNotifier("127.0.0.1", port, "quickwins@example.org")
    with caplog.at_level(logging.WARNING, logger="services.notifications"):
        nobody.send(notice(owner="Bob"))
    assert len(received.messages) == 3
    assert "no address for milestone-reminder notice" in caplog.text
    assert f"owner {OWNER_ID}" in caplog.text and "Bob" not in caplog.text


def test_smtp_raises_when_the_server_is_down() -> None:
    port = free_port()  # nothing listens there
    notifier = SmtpNotifier("127.0.0.1", port, "quickwins@example.org", timeout=2)
    with pytest.raises(OSError):
        notifier.send(notice())


@pytest.mark.parametrize(
    ("owner", "address"),
    [
        ("Ann Owner <ann@example.org>", "Ann Owner <ann@example.org>"),
        ("ann@example.org", "ann@example.org"),
        ("Ann Owner (ann.owner+qw@example.org.uk)", "Ann Owner <ann.owner+qw@example.org.uk>"),
        ("Ann Owner", None),
        ("", None),
        (None, None),
        ("ann@localhost", None),
    ],
)
def test_owner_addresses(owner: str | None, address: str | None) -> None:
    assert (recipient(owner).address if owner else None) == address


def test_log_notifier_logs_each_notice(caplog: pytest.LogCaptureFixture) -> None:
    sent = notice(kind="milestone-overdue", subject="Overdue: 'Venue booked'")
    with caplog.at_level(logging.INFO, logger="services.notifications"):
        LogNotifier().send(sent)
        LogNotifier().send(notice(owner=None))
    first, second = caplog.records
    assert first.levelno == logging.INFO
    assert first.getMessage() == (
        f"milestone-overdue notice for initiative {UUID(int=42)} "
        f"(Regional workshop for chief executives) to owner {OWNER_ID}: "
        "Overdue: 'Venue booked'"
    )
    assert first.notice["notice_id"] == str(sent.notice_id)  # type: ignore[attr-defined]
    # The owner by id only: the recipient is never dumped into a log record.
    assert "recipient" not in first.notice  # type: ignore[attr-defined]
    assert "Ann" not in first.getMessage() and "Ann" not in str(first.notice)  # type: ignore[attr-defined]
    assert "to no owner" in second.getMessage()


def test_log_notifier_takes_a_logger_and_level(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("quickwins.test.notices")
    with caplog.at_level(logging.DEBUG, logger="quickwins.test.notices"):
        LogNotifier(logger, logging.WARNING).send(notice())
    [record] = caplog.records
    assert record.name == "quickwins.test.notices" and record.levelno == logging.WARNING


class Failing:
    def send(self, notice: Notice) -> None:
        raise ConnectionError("mail server down")


class Keeping:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def send(self, notice: Notice) -> None:
        self.notices.append(notice)


def test_fan_out_tries_every_notifier_then_raises() -> None:
    before, after = Keeping(), Keeping()
    sent = notice()
    FanOutNotifier([before, after]).send(sent)
    assert before.notices == after.notices == [sent]

    with pytest.raises(ConnectionError, match="mail server down"):
        FanOutNotifier([before, Failing(), after]).send(sent)
    assert before.notices == after.notices == [sent, sent]  # both still got it
