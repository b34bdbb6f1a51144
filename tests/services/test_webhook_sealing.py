"""Webhook signing secrets sealed at rest: the sealer, its key, and what the database holds."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest

from services.app import Workshops
from services.persistence import postgres_env
from services.settings import Settings
from services.webhooks import signing
from services.webhooks.sealing import (
    KEY_VARIABLE,
    SEALED_V1,
    BadKey,
    Sealer,
    SealingError,
    WrongKey,
    key_path,
    new_key_text,
    parse_key,
    sealer_for,
)
from services.webhooks.store import WebhookStore

from .test_erasure import _plaintext_anywhere
from .test_webhooks import Receiver, delivery_process, eventually, subscribe
from .walk import Walk


def a_sealer() -> Sealer:
    return Sealer(parse_key(new_key_text(), "test key"))


# ----- the sealer ---------------------------------------------------------------------------


def test_a_sealed_secret_opens_to_itself_and_hides_it() -> None:
    sealer, sub, secret = a_sealer(), uuid4(), signing.new_secret()
    sealed = sealer.seal(sub, secret)
    assert sealed.startswith(SEALED_V1)
    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed
    assert sealer.unseal(sub, sealed) == secret
    assert sealer.seal(sub, secret) != sealed  # a fresh nonce each time


def test_the_wrong_key_fails_loudly() -> None:
    sub = uuid4()
    sealed = a_sealer().seal(sub, signing.new_secret())
    with pytest.raises(WrongKey, match=f"webhook {sub}: .*does not open with this key"):
        a_sealer().unseal(sub, sealed)


def test_a_sealed_secret_copied_onto_another_subscription_does_not_open() -> None:
    sealer, one, other = a_sealer(), uuid4(), uuid4()
    sealed = sealer.seal(one, signing.new_secret())
    with pytest.raises(WrongKey, match=str(other)):
        sealer.unseal(other, sealed)


def test_a_plain_secret_from_before_sealing_is_read_as_it_is() -> None:
    secret = signing.new_secret()
    assert a_sealer().unseal(uuid4(), secret) == secret


@pytest.mark.parametrize("stored", ["sealed:v9:AAAA", f"{SEALED_V1}", f"{SEALED_V1}c2hvcnQ"])
def test_unknown_or_damaged_sealed_values_are_refused(stored: str) -> None:
    with pytest.raises(SealingError):
        a_sealer().unseal(uuid4(), stored)


# ----- the key --------------------------------------------------------------------------------


def _settings(data: Path) -> Settings:
    return Settings(data_dir=data)


def test_the_key_file_is_made_once_with_mode_0600_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    settings = _settings(tmp_path / "data")
    sub, secret = uuid4(), signing.new_secret()
    sealed = sealer_for(settings).seal(sub, secret)
    path = key_path(settings.data_dir)
    assert path == tmp_path / "data" / "keys" / "webhook-secrets.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    made = path.read_bytes()
    assert sealer_for(settings).unseal(sub, sealed) == secret  # the second call reads it back
    assert path.read_bytes() == made


def test_processes_racing_to_make_the_key_file_agree_on_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    settings = _settings(tmp_path / "data")
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def load() -> None:
        start.wait()
        keys.append(sealer_for(settings).key)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_the_variable_wins_over_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = new_key_text()
    monkeypatch.setenv(KEY_VARIABLE, text)
    sealer = sealer_for(_settings(tmp_path / "data"))
    assert sealer.key == parse_key(text, KEY_VARIABLE) and len(sealer.key) == 32
    assert not key_path(tmp_path / "data").exists()


@pytest.mark.parametrize(
    "value", ["", "not a key", new_key_text()[:-4], new_key_text() + "AAAA", "+" * 43]
)
def test_a_bad_variable_is_an_error_naming_it(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, value)
    with pytest.raises(BadKey, match=f"^{KEY_VARIABLE}: not the base64url text of 32 bytes"):
        sealer_for(_settings(tmp_path / "data"))


def test_a_damaged_key_file_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    path = key_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("garbage\n")
    os.chmod(path, 0o600)
    with pytest.raises(BadKey, match="webhook-secrets.key: not the base64url text"):
        sealer_for(_settings(tmp_path))


# ----- what the database holds ------------------------------------------------------------------


def _stored_secret(url: str, subscription_id: UUID) -> str:
    return _select(url, "secret", subscription_id)


def _raw_row(url: str, subscription_id: UUID) -> str:
    return _select(url, "s::text", subscription_id)


def _select(url: str, what: str, subscription_id: UUID) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT {what} FROM webhook_subscriptions s WHERE id = %s",  # noqa: S608
            (subscription_id,),
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def sealer() -> Sealer:
    return a_sealer()


@pytest.fixture
def store(fresh_database_url: str, sealer: Sealer) -> Iterator[WebhookStore]:
    webhooks = WebhookStore(fresh_database_url, sealer=sealer)
    yield webhooks
    webhooks.close()


@pytest.mark.integration
def test_the_database_holds_no_secret_in_the_clear(
    fresh_database_url: str, store: WebhookStore
) -> None:
    given = signing.new_secret()
    chosen = subscribe(store, "http://127.0.0.1:9/a", secret=given)
    generated = subscribe(store, "http://127.0.0.1:9/b")
    assert chosen.secret == given and generated.secret.startswith("whsec_")
    for sub in (chosen, generated):
        row = _raw_row(fresh_database_url, sub.id)
        key_part = sub.secret.removeprefix("whsec_")
        assert SEALED_V1 in row and key_part not in row
        for needle in (sub.secret, key_part):
            assert _plaintext_anywhere(fresh_database_url, needle) == [], needle


@pytest.mark.integration
def test_the_sender_signs_with_the_opened_secret_and_reads_old_plain_rows(
    fresh_database_url: str, store: WebhookStore, sealer: Sealer
) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    sealed_secret, plain_secret = signing.new_secret(), signing.new_secret()
    try:
        with Receiver(sealed_secret) as sealed_rx, Receiver(plain_secret) as plain_rx:
            subscribe(store, sealed_rx.url, secret=sealed_secret)
            old = subscribe(store, plain_rx.url, secret=plain_secret)
            with psycopg.connect(fresh_database_url) as conn:  # a row written before sealing
                conn.execute(
                    "UPDATE webhook_subscriptions SET secret = %s WHERE id = %s",
                    (plain_secret, old.id),
                )
            Walk(app)
            with delivery_process(fresh_database_url, sealer=sealer):
                eventually(lambda: sealed_rx.positions() == [1] and plain_rx.positions() == [1])
            assert sealed_rx.bad == [] and plain_rx.bad == []
    finally:
        app.close()


@pytest.mark.integration
def test_claiming_with_the_wrong_key_or_a_copied_secret_fails_and_takes_nothing(
    fresh_database_url: str, store: WebhookStore
) -> None:
    one = subscribe(store, "http://127.0.0.1:9/one")
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute(
            "INSERT INTO webhook_deliveries (id, subscription_id, position, webhook_id,"
            " event_type, body) VALUES (%s, %s, 1, 'msg_x', 't', '{}')",
            (uuid4(), one.id),
        )
    other = WebhookStore(fresh_database_url, sealer=a_sealer(), max_size=1)
    try:
        with pytest.raises(WrongKey, match="does not open with this key"):
            other.claim(8, lease_seconds=60)
    finally:
        other.close()
    # The failed claim rolled back: the delivery is still due, and opens with the right key.
    (claimed,) = store.claim(8, lease_seconds=60)
    assert claimed.secret == one.secret
    two = subscribe(store, "http://127.0.0.1:9/two")
    with psycopg.connect(fresh_database_url) as conn:  # one row's sealed secret onto another
        conn.execute(
            "UPDATE webhook_subscriptions SET secret = %s WHERE id = %s",
            (_stored_secret(fresh_database_url, one.id), two.id),
        )
        conn.execute(
            "UPDATE webhook_deliveries SET subscription_id = %s, next_attempt_at = now()",
            (two.id,),
        )
    with pytest.raises(WrongKey, match=str(two.id)):
        store.claim(8, lease_seconds=60)
