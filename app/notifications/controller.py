"""HTTP routes of notifications, pipeline watches and the event catalogue (thin: decode, call one
service, return)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import ServerSentEvent

from app.accounts.authz import Principal
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.notifications import inbox, live, watch
from app.notifications.catalog import EVENT_TYPES, NOTIFYING
from app.notifications.schemas import (
    EventTypeRead,
    NotificationPage,
    NotificationRead,
    PreferencesRead,
    PreferencesUpdate,
    ReadAllResult,
    UnreadCount,
    WatchRead,
)


@dataclass
class StreamOperation(Operation):
    """The stream's 200 response is ``text/event-stream``, not JSON."""

    def __post_init__(self) -> None:
        ok = self.responses.get("200") if self.responses else None
        if not isinstance(ok, OpenAPIResponse):
            return
        ok.description = "Server-sent events: `unread` first, then one `notification` per new notification"
        event = Schema(
            type=OpenAPIType.OBJECT,
            properties={
                "event": Schema(type=OpenAPIType.STRING, enum=["unread", "notification"]),
                "id": Schema(type=OpenAPIType.STRING, description="The notification's id"),
                "data": Schema(
                    type=OpenAPIType.STRING,
                    description='JSON: `{"unread": n}`, or the notification as the list shows it',
                ),
            },
        )
        ok.content = {"text/event-stream": OpenAPIMediaType(schema=event)}


UnreadFilter = Annotated[bool | None, QueryParameter(description="Only unread (true) or read (false) ones")]
TypeFilter = Annotated[
    str | None,
    QueryParameter(name="type", max_length=64, description="Exact type, or a prefix with `*` (`drift.*`)"),
]
OrgFilter = Annotated[
    str | None, QueryParameter(max_length=64, description="Only this organization's (slug)")
]


class NotificationController(Controller):
    path = "/api/v1"
    tags = ["notifications"]

    @get("/notifications", summary="The caller's notifications, unread first")
    async def list_notifications(
        self,
        principal: NamedDependency[Principal],
        unread: UnreadFilter = None,
        type_: TypeFilter = None,
        organization: OrgFilter = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> NotificationPage:
        """Unread ones first, each group newest first. For users (an API key has none)."""
        return await inbox.list_notifications(
            principal, unread=unread, type_=type_, organization=organization, cursor=cursor, limit=limit
        )

    @get("/notifications/unread-count", summary="How many notifications the caller has not read")
    async def unread_count(
        self, principal: NamedDependency[Principal], organization: OrgFilter = None
    ) -> UnreadCount:
        return await inbox.unread_count(principal, organization)

    @post("/notifications/{notification_id:uuid}/read", status_code=200, summary="Mark a notification read")
    async def mark_read(
        self, principal: NamedDependency[Principal], notification_id: FromPath[uuid.UUID]
    ) -> NotificationRead:
        return await inbox.mark_read(principal, notification_id)

    @post("/notifications/read-all", status_code=200, summary="Mark every (matching) notification read")
    async def mark_all_read(
        self, principal: NamedDependency[Principal], type_: TypeFilter = None, organization: OrgFilter = None
    ) -> ReadAllResult:
        return await inbox.mark_all_read(principal, type_=type_, organization=organization)

    @get(
        "/notifications/stream",
        summary="New notifications, live (server-sent events)",
        operation_class=StreamOperation,
    )
    async def stream(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> ServerSentEvent:
        """An `unread` event with the current count, then a `notification` event (data: the
        notification) for each new one, and a comment every 15 s."""
        channels = request.app.plugins.get(ChannelsPlugin)
        return ServerSentEvent(
            await live.stream(principal, channels),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @get("/notifications/preferences", summary="Which notifications the caller receives")
    async def get_preferences(self, principal: NamedDependency[Principal]) -> PreferencesRead:
        return await inbox.get_preferences(principal)

    @patch("/notifications/preferences", summary="Turn types of notifications on or off")
    async def update_preferences(
        self, principal: NamedDependency[Principal], data: JSONBody[PreferencesUpdate]
    ) -> PreferencesRead:
        return await inbox.update_preferences(principal, data)

    @get("/pipelines/{pipeline_id:uuid}/watch", summary="Whether the caller watches a pipeline (drift)")
    async def get_watch(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> WatchRead:
        """Watchers are notified of the pipeline's drift checks. Without a choice of their own, its
        creator and whoever started its executions watch it."""
        return await watch.get_watch(principal, pipeline_id)

    @put("/pipelines/{pipeline_id:uuid}/watch", summary="Watch a pipeline")
    async def watch_pipeline(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> WatchRead:
        return await watch.set_watch(principal, pipeline_id, True)

    @delete("/pipelines/{pipeline_id:uuid}/watch", status_code=200, summary="Stop watching a pipeline")
    async def unwatch_pipeline(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> WatchRead:
        """Wins over being its creator or having started its executions."""
        return await watch.set_watch(principal, pipeline_id, False)

    @get("/event-types", summary="The domain events webhooks and notifications are made from")
    async def event_types(self) -> list[EventTypeRead]:
        return [
            EventTypeRead(type=t, description=d, notifies=NOTIFYING.get(t)) for t, d in EVENT_TYPES.items()
        ]
