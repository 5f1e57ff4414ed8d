"""HTTP routes of webhooks and their deliveries (thin: decode, call one service, return)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from app.accounts.authz import Principal
from app.config import Settings
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.notifications import deliveries, webhooks
from app.notifications.schemas import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    SecretRotate,
    WebhookCreate,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

DeliveryStatus = Annotated[
    str | None,
    QueryParameter(
        name="status",
        pattern="^(pending|delivering|succeeded|failed|canceled)$",
        description="Only deliveries in this status",
    ),
]


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class WebhookController(Controller):
    path = "/api/v1"
    tags = ["webhooks"]

    @get("/orgs/{org:str}/webhooks", summary="An organization's webhooks (org:admin)")
    async def list_webhooks(self, principal: NamedDependency[Principal], org: FromPath[str]) -> WebhookList:
        return await webhooks.list_webhooks(principal, org)

    @post(
        "/orgs/{org:str}/webhooks",
        status_code=HTTP_201_CREATED,
        summary="Create a webhook; its signing secret is shown once",
    )
    async def create_webhook(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        data: JSONBody[WebhookCreate],
    ) -> WebhookWithSecret:
        """The URL must not point at loopback, private, link-local or metadata addresses (unless
        BOARD3_WEBHOOK_ALLOW_PRIVATE is set). Deliveries are signed with the secret; see
        docs/webhooks.md to verify them."""
        return await webhooks.create_webhook(principal, org, data, _settings(request))

    @get("/webhooks/{webhook_id:uuid}", summary="One webhook")
    async def get_webhook(
        self, principal: NamedDependency[Principal], webhook_id: FromPath[uuid.UUID]
    ) -> WebhookRead:
        return await webhooks.get_webhook(principal, webhook_id)

    @patch("/webhooks/{webhook_id:uuid}", summary="Change a webhook, enable or disable it")
    async def update_webhook(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        webhook_id: FromPath[uuid.UUID],
        data: JSONBody[WebhookUpdate],
    ) -> WebhookRead:
        """Disabling cancels its waiting deliveries; enabling resets its count of failures."""
        return await webhooks.update_webhook(principal, webhook_id, data, _settings(request))

    @delete("/webhooks/{webhook_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete a webhook")
    async def delete_webhook(
        self, principal: NamedDependency[Principal], webhook_id: FromPath[uuid.UUID]
    ) -> None:
        await webhooks.delete_webhook(principal, webhook_id)

    @post(
        "/webhooks/{webhook_id:uuid}/rotate-secret",
        status_code=200,
        summary="Replace the signing secret; the old one signs too for a grace period",
    )
    async def rotate_secret(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        webhook_id: FromPath[uuid.UUID],
        data: JSONBody[SecretRotate],
    ) -> WebhookWithSecret:
        """During the grace period every delivery carries a signature by each secret."""
        return await webhooks.rotate_secret(principal, webhook_id, data, _settings(request))

    @get("/webhooks/{webhook_id:uuid}/deliveries", summary="A webhook's deliveries, newest first")
    async def list_deliveries(
        self,
        principal: NamedDependency[Principal],
        webhook_id: FromPath[uuid.UUID],
        status: DeliveryStatus = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DeliveryPage:
        return await deliveries.list_deliveries(
            principal, webhook_id, status=status, cursor=cursor, limit=limit
        )

    @post("/webhooks/{webhook_id:uuid}/test", status_code=HTTP_202_ACCEPTED, summary="Send a test delivery")
    async def test(
        self, principal: NamedDependency[Principal], webhook_id: FromPath[uuid.UUID]
    ) -> DeliveryRead:
        """A `webhook.test` event, sent once by a worker whatever the webhook's filter, even while it
        is disabled. Follow it with GET /api/v1/deliveries/{id}."""
        return await deliveries.send_test(principal, webhook_id)

    @get("/deliveries/{delivery_id:uuid}", summary="One delivery, its body and every attempt")
    async def get_delivery(
        self, principal: NamedDependency[Principal], delivery_id: FromPath[uuid.UUID]
    ) -> DeliveryDetail:
        return await deliveries.get_delivery(principal, delivery_id)

    @post(
        "/deliveries/{delivery_id:uuid}/redeliver",
        status_code=HTTP_202_ACCEPTED,
        summary="Send a delivery again",
    )
    async def redeliver(
        self, principal: NamedDependency[Principal], delivery_id: FromPath[uuid.UUID]
    ) -> DeliveryRead:
        """The same body as a new delivery (new Board3-Delivery id, same event id), sent once."""
        return await deliveries.redeliver(principal, delivery_id)
