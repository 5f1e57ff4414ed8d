"""Invitations and webhooks pages (both ``org:admin``): invite, resend and revoke; create webhooks
(their signing secret shown once), enable, disable, rotate, delete, send a test, and follow their
deliveries with every attempt. Every action calls the service the API calls, which decides."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.accounts import orgs
from app.accounts.authz import Access
from app.console.forms import convert, form_fields, text
from app.console.render import Shell, page, redirect, shell_for
from app.lib.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed, not_found
from app.lib.principal import Principal
from app.notifications import catalog, deliveries, invitations, webhooks

# The API's own mailer, settings and link base, so an invitation from here is the API's exactly.
from app.notifications.invitation_controller import _base_url, _mailer, _settings
from app.notifications.mail import OutboxMailer
from app.notifications.schemas import (
    DeliveryDetail,
    InvitationCreate,
    InvitationRead,
    SecretRotate,
    WebhookCreate,
    WebhookUpdate,
    WebhookWithSecret,
)

CursorQuery = Annotated[str | None, QueryParameter(max_length=512)]
InvitationFilter = Annotated[
    str, QueryParameter(name="status", pattern="^(pending|expired|accepted|revoked|all)$")
]
DeliveryFilter = Annotated[
    str | None, QueryParameter(name="status", pattern="^(pending|delivering|succeeded|failed|canceled)$")
]
PAGE_SIZE = 25
# The rotated secret keeps signing beside the new one for this long (empty: the server's default).
GRACE_CHOICES = (("", "the default"), ("0", "no time: it stops now"), ("3600", "1 hour"), ("86400", "1 day"))


def _form_error(exc: AppError) -> bool:
    """Bad input the form can show next to its fields (the rest gets the error page)."""
    return isinstance(exc, (ValidationFailed, Conflict)) and bool(exc.errors)


async def _own_webhook(principal: Principal, org: str, webhook_id: uuid.UUID) -> Access:
    """The service's access check for the webhook (``org:admin`` in its organization); one reached
    under another organization's address is not found, like the API's other tenants' objects."""
    access = await webhooks.webhook_access(principal, webhook_id)
    if access.organization_slug != org:
        raise not_found("webhook")
    return access


async def _own_invitation(principal: Principal, org: str, invitation_id: uuid.UUID) -> InvitationRead:
    """The invitation among the organization's own (listed by the service, ``org:admin``), or 404."""
    found = await invitations.list_invitations(principal, org, "all")
    for item in found.items:
        if item.id == invitation_id:
            return item
    raise not_found("invitation")


async def _own_delivery(principal: Principal, org: str, delivery_id: uuid.UUID) -> DeliveryDetail:
    """The delivery (the service checks access); under another organization's address, 404."""
    found = await deliveries.get_delivery(principal, delivery_id)
    try:
        await _own_webhook(principal, org, found.webhook_id)
    except NotFound:
        raise not_found("delivery") from None
    return found


def _sent(request: Request[Any, Any, Any], done: str) -> str:
    """What became of the email, as the API documents it: through SMTP, or, without
    ``BOARD3_SMTP_URL``, into the server's outbox directory (``BOARD3_MAIL_OUTBOX``)."""
    if isinstance(_mailer(request), OutboxMailer):
        return (
            f"{done}. No mail server is configured: the email was written to the server's outbox "
            "(BOARD3_MAIL_OUTBOX) instead of being sent."
        )
    return f"{done}: the email with the link is on its way."


async def _invitations_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    org: str,
    status: str = "all",
    form: dict[str, str] | None = None,
    error: AppError | None = None,
) -> Response[Any]:
    listed = await invitations.list_invitations(principal, org, status)
    shell = await shell_for(request, org)
    roles = [r for r in await orgs.list_roles(principal, org) if set(r.permissions) <= shell.permissions]
    return await page(
        request,
        "org/invitations.html",
        shell=shell,
        invitations=listed.items,
        status=status,
        roles=roles,
        form=form or {"email": "", "role": "developer"},
        error=error,
        outbox=isinstance(_mailer(request), OutboxMailer),
        status_code=error.status if error else 200,
    )


async def _webhooks_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    org: str,
    form: dict[str, Any] | None = None,
    error: AppError | None = None,
) -> Response[Any]:
    listed = await webhooks.list_webhooks(principal, org)
    return await page(
        request,
        "org/webhooks.html",
        org=org,
        hooks=listed.items,
        event_types=catalog.EVENT_TYPES,
        domains=sorted(catalog.DOMAINS),
        form=form or {"name": "", "url": "", "events": [], "format": "json"},
        error=error,
        status_code=error.status if error else 200,
    )


async def _webhook_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    shell: Shell,
    webhook_id: uuid.UUID,
    *,
    created: WebhookWithSecret | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> Response[Any]:
    """A webhook with its deliveries; ``created`` carries a new secret, shown on this response
    only (it is neither stored readable nor put in a cookie, so no later page can show it)."""
    hook = created.webhook if created else await webhooks.get_webhook(principal, webhook_id)
    listed = await deliveries.list_deliveries(
        principal, webhook_id, status=status, cursor=cursor, limit=PAGE_SIZE
    )
    return await page(
        request,
        "org/webhook.html",
        shell=shell,
        hook=hook,
        secret=created.secret if created else None,
        deliveries=listed.items,
        next_cursor=listed.next_cursor,
        status=status or "",
        grace_choices=GRACE_CHOICES,
        default_grace=_settings(request).notify.webhook_secret_grace,
    )


class NotificationPages(Controller):
    path = "/orgs/{org:str}"

    # --- invitations ------------------------------------------------------------------------------

    @get("/invitations")
    async def invitations_page(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        status: InvitationFilter = "all",
    ) -> Response[Any]:
        return await _invitations_page(request, principal, org, status)

    @post("/invitations", status_code=303)
    async def invite(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        """``POST /orgs/{org}/invitations``; bad input comes back as the form, with its values."""
        fields = await form_fields(request)
        form = {"email": text(fields, "email"), "role": text(fields, "role") or "developer"}
        try:
            created = await invitations.create_invitation(
                principal,
                org,
                convert(form, InvitationCreate),
                _mailer(request),
                _settings(request),
                _base_url(request),
            )
        except AppError as exc:
            if not _form_error(exc):
                raise
            return await _invitations_page(request, principal, org, form=form, error=exc)
        return redirect(
            f"/console/orgs/{org}/invitations", _sent(request, f"{created.email} is invited"), request
        )

    @post("/invitations/{invitation_id:uuid}/resend", status_code=303)
    async def resend(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        invitation_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A new link and expiry, sent again (the old link stops working)."""
        await _own_invitation(principal, org, invitation_id)
        sent = await invitations.resend(
            principal, invitation_id, _mailer(request), _settings(request), _base_url(request)
        )
        message = _sent(request, f"The invitation of {sent.email} was sent again with a new link")
        return redirect(f"/console/orgs/{org}/invitations", message, request)

    @post("/invitations/{invitation_id:uuid}/revoke", status_code=303)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        invitation_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        found = await _own_invitation(principal, org, invitation_id)
        await invitations.revoke(principal, invitation_id)
        return redirect(
            f"/console/orgs/{org}/invitations",
            f"The invitation of {found.email} is revoked: its link no longer works.",
            request,
        )

    # --- webhooks ---------------------------------------------------------------------------------

    @get("/webhooks")
    async def webhooks_page(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        return await _webhooks_page(request, principal, org)

    @post("/webhooks", status_code=200)
    async def create_webhook(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        """``POST /orgs/{org}/webhooks``: the new webhook's page, with its signing secret on this
        response only. Bad input (a URL the SSRF guard refuses too) comes back as the form."""
        fields = await form_fields(request)
        events = fields.get("events", [])
        form: dict[str, Any] = {
            "name": text(fields, "name"),
            "url": text(fields, "url"),
            "events": [events] if isinstance(events, str) else list(events),
            "format": text(fields, "format") or "json",
        }
        try:
            if not form["events"]:
                raise ValidationFailed(
                    "invalid value for events",
                    errors=[FieldError("events", "choose at least one event type")],
                )
            created = await webhooks.create_webhook(
                principal, org, convert(form, WebhookCreate), _settings(request)
            )
        except AppError as exc:
            if not _form_error(exc):
                raise
            return await _webhooks_page(request, principal, org, form=form, error=exc)
        shell = await shell_for(request, org)
        return await _webhook_page(request, principal, shell, created.webhook.id, created=created)

    @get("/webhooks/{webhook_id:uuid}")
    async def webhook_page(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        webhook_id: FromPath[uuid.UUID],
        status: DeliveryFilter = None,
        cursor: CursorQuery = None,
    ) -> Response[Any]:
        """The webhook and its deliveries, newest first."""
        await _own_webhook(principal, org, webhook_id)
        shell = await shell_for(request, org)
        return await _webhook_page(request, principal, shell, webhook_id, status=status, cursor=cursor)

    @post("/webhooks/{webhook_id:uuid}/rotate-secret", status_code=200)
    async def rotate_secret(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        webhook_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A new secret, shown on this response only; the old one signs too for the grace period."""
        await _own_webhook(principal, org, webhook_id)
        fields = await form_fields(request)
        grace = text(fields, "grace_seconds")
        data = convert({"grace_seconds": grace} if grace else {}, SecretRotate)
        rotated = await webhooks.rotate_secret(principal, webhook_id, data, _settings(request))
        shell = await shell_for(request, org)
        return await _webhook_page(request, principal, shell, webhook_id, created=rotated)

    @post("/webhooks/{webhook_id:uuid}/{action:str}", status_code=303)
    async def webhook_action(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        webhook_id: FromPath[uuid.UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        """Enable, disable, delete, or send a ``webhook.test`` delivery."""
        await _own_webhook(principal, org, webhook_id)
        here = f"/console/orgs/{org}/webhooks/{webhook_id}"
        if action in ("enable", "disable"):
            update = WebhookUpdate(enabled=action == "enable")
            hook = await webhooks.update_webhook(principal, webhook_id, update, _settings(request))
            message = (
                f"{hook.name} is enabled."
                if hook.enabled
                else f"{hook.name} is disabled: its waiting deliveries are canceled."
            )
            return redirect(here, message, request)
        if action == "delete":
            await webhooks.delete_webhook(principal, webhook_id)
            return redirect(f"/console/orgs/{org}/webhooks", "Webhook deleted, with its deliveries.", request)
        if action == "test":
            sent = await deliveries.send_test(principal, webhook_id)
            return redirect(
                f"/console/orgs/{org}/deliveries/{sent.id}",
                "Test delivery queued: a worker sends it within a second or so.",
                request,
            )
        raise ValidationFailed(
            f"unknown action {action!r}",
            errors=[FieldError("action", "enable, disable, delete, test or rotate-secret")],
        )

    @get("/deliveries/{delivery_id:uuid}")
    async def delivery_page(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        delivery_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """One delivery: the body sent, exactly, and every attempt."""
        found = await _own_delivery(principal, org, delivery_id)
        hook = await webhooks.get_webhook(principal, found.webhook_id)
        return await page(request, "org/delivery.html", org=org, delivery=found, hook=hook)

    @post("/deliveries/{delivery_id:uuid}/redeliver", status_code=303)
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        delivery_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The same body again, as a new delivery sent once."""
        await _own_delivery(principal, org, delivery_id)
        again = await deliveries.redeliver(principal, delivery_id)
        return redirect(
            f"/console/orgs/{org}/deliveries/{again.id}",
            "Redelivery queued: the same body goes out again as a new delivery.",
            request,
        )
