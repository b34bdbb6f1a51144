"""Webhook signing secrets sealed at rest, under a key that is not in the database.

A subscription's secret is stored as `sealed:v1:<base64url(nonce || ciphertext)>`:
AES-256-GCM with a random 12-byte nonce and the subscription id as associated
data, so a sealed secret copied onto another row does not open. Rows written
before sealing hold the plain `whsec_...` text; they are read as they are.

The key (32 random bytes) comes from the setting `secrets_key`
(QUICKWINS_SECRETS_KEY, base64url text) or else from the file
`keys/webhook-secrets.key` in the data folder (the same text), made on first
use with mode 0600. `sealer_for(settings)` is the one place that reads either.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..settings import Settings

KEY_VARIABLE = "QUICKWINS_SECRETS_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SEALED = "sealed:"
SEALED_V1 = "sealed:v1:"
# Binds a sealed value to its row (and to this use of the key).
_CONTEXT = b"quickwins:webhook-secret:"
# 32 bytes in base64url: 43 characters, with or without the one padding "=".
_KEY_TEXT = re.compile(r"[A-Za-z0-9_-]{43}=?")
# How long a process that lost the race to make the key file waits for the winner's write.
_WRITE_WAIT_SECONDS = 2.0


class SealingError(ValueError):
    """A secret that cannot be sealed or opened, or a key that cannot be used."""


class BadKey(SealingError):
    """The configured key (variable or file) is not the base64url text of 32 bytes."""


class WrongKey(SealingError):
    """A sealed secret that does not open with this key for this subscription."""


def key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "webhook-secrets.key"


def new_key_text() -> str:
    """A fresh key as the base64url text the variable and the key file hold."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def parse_key(text: str, source: str) -> bytes:
    """The 32 bytes of a key's base64url text; BadKey naming `source` otherwise."""
    cleaned = text.strip()
    if not _KEY_TEXT.fullmatch(cleaned):
        raise BadKey(
            f"{source}: not the base64url text of {KEY_BYTES} bytes "
            f"(43 characters of A-Z a-z 0-9 - _)"
        )
    return base64.urlsafe_b64decode(cleaned.rstrip("=") + "=")


def load_key_file(path: Path) -> bytes:
    """The key in `path`, made (mode 0600, folder 0700) when there is none."""
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: of several processes sharing the data folder, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: read theirs
        return
    with os.fdopen(fd, "w") as out:
        out.write(new_key_text() + "\n")
        out.flush()
        os.fsync(out.fileno())


def _read_key_file(path: Path) -> bytes:
    # The winner of the race may still be writing: an empty or short file is retried briefly.
    deadline = time.monotonic() + _WRITE_WAIT_SECONDS
    while True:
        try:
            return parse_key(path.read_text(), str(path))
        except BadKey:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Sealer:
    """Seals and opens webhook secrets with one key."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise BadKey(f"the secrets key must be {KEY_BYTES} bytes, not {len(self.key)}")

    def seal(self, subscription_id: UUID, secret: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, secret.encode(), _associated(subscription_id))
        return SEALED_V1 + _b64(nonce + sealed)

    def unseal(self, subscription_id: UUID, stored: str) -> str:
        """The secret of `subscription_id` as stored; a plain (pre-sealing) secret as it is."""
        if not stored.startswith(SEALED):
            return stored
        if not stored.startswith(SEALED_V1):
            raise SealingError(f"webhook {subscription_id}: unknown sealed secret format")
        try:
            raw = _unb64(stored.removeprefix(SEALED_V1))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SealingError(f"webhook {subscription_id}: malformed sealed secret")
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        try:
            plain = AESGCM(self.key).decrypt(nonce, sealed, _associated(subscription_id))
        except InvalidTag:
            raise WrongKey(
                f"webhook {subscription_id}: its signing secret does not open with this key"
                f" (was {KEY_VARIABLE} or the data folder's keys/webhook-secrets.key changed,"
                " or was the value copied from another webhook?)"
            ) from None
        return plain.decode()


def _associated(subscription_id: UUID) -> bytes:
    return _CONTEXT + subscription_id.bytes


def sealer_for(settings: Settings) -> Sealer:
    """The sealer of this deployment: the key from QUICKWINS_SECRETS_KEY, else the key file."""
    if settings.secrets_key is not None:
        return Sealer(parse_key(settings.secrets_key.get_secret_value(), KEY_VARIABLE))
    return Sealer(load_key_file(key_path(settings.data_dir)))
