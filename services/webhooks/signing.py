"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The signed content is `{id}.{timestamp}.{body}`; the signature is HMAC-SHA256
with the secret's key, sent as `v1,<base64>`. A secret is `whsec_` followed
by the base64 of its key (24 random bytes when we make one). A receiver
verifies with a tolerance on the timestamp, so a captured request cannot be
replayed much later, and compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
# How far a timestamp may be from the receiver's clock (the spec's suggestion).
TOLERANCE_SECONDS = 5 * 60


class InvalidSecret(ValueError):
    """A secret that is not `whsec_<base64>` of at least 16 bytes."""


class InvalidSignature(ValueError):
    """A request whose headers do not prove it came from the holder of the secret."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of `whsec_<base64>` (the prefix is optional, as in the spec's libraries)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("secret: not whsec_ followed by base64") from None
    if len(key) < 16:
        raise InvalidSecret("secret: the key must be at least 16 bytes (24 recommended)")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one message."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Check a received message; return its `webhook-id` or raise InvalidSignature.

    `headers` must look names up case-insensitively or use lower-case names.
    The signature header may carry several space-separated signatures (during
    a secret rotation); one match is enough.
    """
    webhook_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    given = headers.get("webhook-signature")
    if not webhook_id or not stamp or not given:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a whole number of seconds") from None
    current = (now or datetime.now(UTC)).timestamp()
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("webhook-timestamp is outside the tolerance")
    expected = sign(secret, webhook_id, timestamp, body).encode()
    for candidate in given.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return webhook_id
    raise InvalidSignature("no matching signature")
