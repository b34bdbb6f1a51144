"""Webhook subscriptions: register a URL, see its deliveries, redeliver a dead one.

Subscribers see and manage only their own subscriptions; admins
(`webhooks.admin`) see and redeliver everyone's. A subscription receives the
events recorded after it was registered, of the types it asked for (within
the types the caller's token grants). URLs that resolve to loopback, private
or otherwise internal addresses are refused unless an admin allowed them on
the caller's token. The signing secret is returned once, when registered, and
stored sealed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..feed import EVENT_TYPES
from ..webhooks.store import Attempt, Delivery, Subscription, WebhookStore
from ..webhooks.subscriptions import BadSubscription, register
from .auth import allowed, permit
from .problems import ProblemError
from .tokens import Caller

router = APIRouter(tags=["webhooks"])

Manager = Annotated[Caller, Depends(permit("webhooks.manage"))]

_EXAMPLE_TYPE = "quickwins.workshop.phase_opened.v1"
_EXAMPLE_ID = "9b2f6c1e-4d3a-4c5b-8e7f-0a1b2c3d4e5f"


def store_of(request: Request) -> WebhookStore:
    """The process's webhook store, made on first use over the API's connection pool."""
    state = request.app.state
    store: WebhookStore | None = getattr(state, "webhooks", None)
    if store is None:
        store = state.webhooks = WebhookStore(
            state.stack.database_url, sealer=state.sealer, pool=state.ctx.pool
        )
    return store


Store = Annotated[WebhookStore, Depends(store_of)]


# ----- models ------------------------------------------------------------------------------


class WebhookRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.org/quickwins",
                    "types": [_EXAMPLE_TYPE],
                    "workshop": _EXAMPLE_ID,
                }
            ]
        },
    )

    url: str = Field(max_length=2000, description="http(s) URL that receives the POSTs")
    types: list[str] | None = Field(
        default=None,
        max_length=len(EVENT_TYPES),
        description="event types to receive; absent: every type your token grants",
    )
    programme: UUID | None = Field(default=None, description="only this programme's events")
    workshop: UUID | None = Field(default=None, description="only this workshop's events")
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="`whsec_<base64 of 16+ bytes>`; absent: one is generated and returned once",
    )


class Webhook(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _EXAMPLE_ID,
                    "url": "https://hooks.example.org/quickwins",
                    "types": [_EXAMPLE_TYPE],
                    "programme": None,
                    "workshop": None,
                    "active": True,
                    "start_position": 1200,
                    "created_at": "2010-07-02T09:00:00Z",
                }
            ]
        }
    )

    id: UUID
    url: str
    types: list[str] | None
    programme: UUID | None
    workshop: UUID | None
    active: bool
    start_position: int = Field(description="events recorded after this log position are sent")
    created_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> Webhook:
        return cls(
            id=sub.id,
            url=sub.url,
            types=None if sub.types is None else sorted(sub.types),
            programme=sub.programme_id,
            workshop=sub.workshop_id,
            active=sub.active,
            start_position=sub.start_position,
            created_at=sub.created_at,
        )


class RegisteredWebhook(Webhook):
    secret: str = Field(description="the signing secret: shown only now")


class WebhookDelivery(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _EXAMPLE_ID,
                    "subscription": _EXAMPLE_ID,
                    "position": 1201,
                    "webhook_id": "msg_2c6f0d8e5b4a4c3d9e8f7a6b5c4d3e2f",
                    "type": _EXAMPLE_TYPE,
                    "status": "dead",
                    "attempts": 8,
                    "next_attempt_at": "2010-07-02T17:00:00Z",
                    "last_status_code": 503,
                    "last_error": "HTTP 503",
                    "created_at": "2010-07-02T09:00:01Z",
                    "updated_at": "2010-07-02T17:00:00Z",
                }
            ]
        }
    )

    id: UUID
    subscription: UUID
    position: int = Field(description="the event's log position (the CloudEvent's id)")
    webhook_id: str = Field(description="the webhook-id header: the same on every try")
    type: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: Delivery) -> WebhookDelivery:
        return cls(
            id=d.id,
            subscription=d.subscription_id,
            position=d.position,
            webhook_id=d.webhook_id,
            type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            updated_at=d.updated_at,
        )


class DeliveryAttempt(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, a: Attempt) -> DeliveryAttempt:
        return cls(
            attempt=a.attempt,
            at=a.at,
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
        )


class DeliveryWithAttempts(WebhookDelivery):
    attempt_log: list[DeliveryAttempt]


# ----- who may see what -----------------------------------------------------------------------


def _not_found(what: str, field: str) -> ProblemError:
    # Someone else's subscription looks exactly like a missing one.
    return ProblemError(404, "Not found", f"no such {what}", field)


def _sees_all(caller: Caller) -> bool:
    return allowed(caller.role, "webhooks.admin")


def _own_subscription(store: WebhookStore, caller: Caller, subscription_id: UUID) -> Subscription:
    sub = store.subscription(subscription_id)
    if sub is None or not (_sees_all(caller) or sub.owner_token_id == caller.token_id):
        raise _not_found("webhook", "id")
    return sub


def _own_delivery(store: WebhookStore, caller: Caller, delivery_id: UUID) -> Delivery:
    delivery = store.delivery(delivery_id)
    if delivery is None:
        raise _not_found("delivery", "id")
    sub = store.subscription(delivery.subscription_id)
    if sub is None or not (_sees_all(caller) or sub.owner_token_id == caller.token_id):
        raise _not_found("delivery", "id")
    return delivery


# ----- routes ----------------------------------------------------------------------------------


@router.post(
    "/webhooks",
    status_code=201,
    response_model=RegisteredWebhook,
    summary="Register a webhook (the signing secret is in this answer only)",
    description=(
        "Events recorded from now on that match the filters are POSTed to `url` as CloudEvents "
        "1.0 JSON, signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, "
        "`webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`). Failed deliveries "
        "are retried with exponential backoff and jitter, then dead-lettered. The `webhook-id` "
        "is the same on every try: drop repeats by it."
    ),
)
def create_webhook(
    body: WebhookRequest, caller: Manager, store: Store, request: Request
) -> RegisteredWebhook:
    try:
        sub = register(
            store,
            url=body.url,
            start_position=request.app.state.stack.app.max_position(),
            owner_token_id=caller.token_id,
            types=body.types,
            programme_id=body.programme,
            workshop_id=body.workshop,
            secret=body.secret,
            allow_private=caller.allow_private_webhooks,
            granted_types=caller.event_types,
            # Tests may set a resolver that answers without the network.
            resolve=getattr(request.app.state, "webhook_resolver", None),
        )
    except BadSubscription as bad:
        if bad.forbidden:
            raise ProblemError(403, "Forbidden", str(bad), bad.field) from None
        raise ProblemError(422, "Invalid input", str(bad), bad.field) from None
    return RegisteredWebhook(**Webhook.of(sub).model_dump(), secret=sub.secret)


@router.get(
    "/webhooks",
    response_model=list[Webhook],
    summary="Your webhooks (an admin's: everyone's)",
)
def list_webhooks(caller: Manager, store: Store) -> list[Webhook]:
    subs = store.subscriptions(caller.token_id, everyone=_sees_all(caller))
    return [Webhook.of(sub) for sub in subs]


@router.delete(
    "/webhooks/{id}",
    status_code=204,
    response_class=Response,
    summary="Stop a webhook (its delivery log is kept)",
)
def delete_webhook(id: UUID, caller: Manager, store: Store) -> Response:  # noqa: A002
    sub = _own_subscription(store, caller, id)
    if not sub.active:
        raise _not_found("webhook", "id")
    store.deactivate(sub.id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{id}/deliveries",
    response_model=list[WebhookDelivery],
    summary="A webhook's deliveries, newest first",
)
def list_deliveries(
    id: UUID,  # noqa: A002
    caller: Manager,
    store: Store,
    status: Annotated[
        Literal["pending", "delivered", "dead"] | None,
        Query(description="only deliveries in this status (`dead`: the dead letters)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[WebhookDelivery]:
    sub = _own_subscription(store, caller, id)
    found = store.deliveries(subscription_id=sub.id, status=status, limit=limit)
    return [WebhookDelivery.of(d) for d in found]


@router.get(
    "/webhooks/deliveries/{id}",
    response_model=DeliveryWithAttempts,
    summary="One delivery with every attempt: when, status code or error, duration",
)
def show_delivery(id: UUID, caller: Manager, store: Store) -> DeliveryWithAttempts:  # noqa: A002
    delivery = _own_delivery(store, caller, id)
    attempts = [DeliveryAttempt.of(a) for a in store.attempts(delivery.id)]
    return DeliveryWithAttempts(**WebhookDelivery.of(delivery).model_dump(), attempt_log=attempts)


@router.post(
    "/webhooks/deliveries/{id}/redeliver",
    response_model=WebhookDelivery,
    summary="Send a delivery again, from its first try (a dead letter, or a delivered one)",
)
def redeliver(id: UUID, caller: Manager, store: Store) -> WebhookDelivery:  # noqa: A002
    delivery = _own_delivery(store, caller, id)
    again = store.redeliver(delivery.id)
    if again is None:
        raise _not_found("delivery", "id")
    return WebhookDelivery.of(again)
