"""Registering a subscription: the checks the API and the CLI share."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from ..feed import unknown_types
from . import signing
from .ssrf import Resolver, UnsafeURL, check_url
from .store import Registered, WebhookStore


class BadSubscription(ValueError):
    """A subscription we refuse; `field` names the offending input."""

    def __init__(self, field: str, message: str, *, forbidden: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.forbidden = forbidden  # asked for more than the caller was granted


def register(
    store: WebhookStore,
    *,
    url: str,
    start_position: int,
    owner_token_id: UUID | None,
    types: Iterable[str] | None = None,
    programme_id: UUID | None = None,
    workshop_id: UUID | None = None,
    secret: str | None = None,
    allow_private: bool = False,
    granted_types: frozenset[str] | None = None,
    resolve: Resolver | None = None,
) -> Registered:
    """Check and store a subscription that starts after `start_position` (the log's end now).

    `granted_types`: the types the subscriber may receive (None: all). When
    `types` is not given the subscription gets the granted ones. The secret
    is generated when absent; the caller shows it once (the store keeps it
    sealed).
    """
    wanted = None if types is None else frozenset(types)
    if wanted is not None:
        if not wanted:
            raise BadSubscription("types", "give at least one type, or leave it out for all")
        unknown = unknown_types(wanted)
        if unknown:
            raise BadSubscription("types", f"unknown event type {unknown[0]!r}")
        if granted_types is not None and not wanted <= granted_types:
            denied = sorted(wanted - granted_types)[0]
            raise BadSubscription("types", f"your token does not grant {denied!r}", forbidden=True)
    elif granted_types is not None:
        wanted = granted_types
    try:
        check_url(url, allow_private=allow_private, resolve=resolve)
    except UnsafeURL as refused:
        raise BadSubscription("url", str(refused).removeprefix("url: ")) from None
    if secret is None:
        secret = signing.new_secret()
    else:
        try:
            signing.secret_key(secret)
        except signing.InvalidSecret as bad:
            raise BadSubscription("secret", str(bad).removeprefix("secret: ")) from None
    return store.add_subscription(
        url=url,
        secret=secret,
        owner_token_id=owner_token_id,
        types=wanted,
        programme_id=programme_id,
        workshop_id=workshop_id,
        allow_private=allow_private,
        start_position=start_position,
    )
