"""Invitations to join an organization (``org:admin``): by email, with a role, through a
single-use token that expires (``BOARD3_INVITATION_TTL``, 7 days by default).

Only the token's SHA-256 is stored; the token itself travels in the email. It is accepted by a
signed-in user whose email is the invited one, or, without an account, by registering with that
email in the same call. Whoever invites must hold every permission of the role, as for adding a
member. Every step is audited and emitted (``invitation.*``, ``member.added``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from typing import Any

from app.accounts.auth_service import AuthService, Client, user_principal
from app.accounts.authz import Access, Principal, access_for_org, scoped
from app.accounts.credentials import sha256_hex
from app.accounts.emails import normalize_email
from app.accounts.orgs import grantable_role, org_read
from app.accounts.schemas import RegisterRequest, UserRead
from app.accounts.tables import Member, Organization, User
from app.config import Settings
from app.db import after_commit, is_unique_violation, transaction
from app.events import audit
from app.events.bus import emit
from app.lib.clock import utcnow
from app.lib.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed, not_found
from app.lib.generations import org_generation, renew_after_commit
from app.notifications.mail import Mail, Mailer
from app.notifications.schemas import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationList,
    InvitationRead,
)
from app.notifications.tables import Invitation

log = logging.getLogger("board3.invitations")

TOKEN_PREFIX = "b3i_"
PERMISSION = "org:admin"
COLUMNS = (
    *Invitation.all_columns(),
    Invitation.organization._.slug,
    Invitation.organization._.name,
    Invitation.role._.name,
)


def _status(row: dict[str, Any], now: dt.datetime) -> str:
    if row["accepted_at"] is not None:
        return "accepted"
    if row["revoked_at"] is not None:
        return "revoked"
    return "expired" if row["expires_at"] <= now else "pending"


def invitation_read(row: dict[str, Any], now: dt.datetime) -> InvitationRead:
    return InvitationRead(
        id=row["id"],
        organization_slug=row["organization.slug"],
        email=row["email"],
        role=row["role.name"],
        status=_status(row, now),  # type: ignore[arg-type]
        invited_by=row["invited_by_label"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_sent_at=row["last_sent_at"],
        send_count=row["send_count"],
        accepted_at=row["accepted_at"],
        revoked_at=row["revoked_at"],
    )


def _mail(row: dict[str, Any], token: str, base_url: str) -> Mail:
    org, email = row["organization.name"], row["email"]
    accept = f"{base_url}/api/v1/invitations/{token}/accept"
    return Mail(
        to=email,
        subject=f"You are invited to join {org} on Board3",
        text=(
            f"{row['invited_by_label'] or 'Someone'} invited you to join {org} on Board3 as "
            f"{row['role.name']}.\n\n"
            f"If you have a Board3 account for {email}, accept while signed in:\n\n"
            f"  POST {accept}\n\n"
            'Without an account, the same request with a JSON body {"name": ..., "password": ...} '
            f"creates one for {email} and accepts.\n\n"
            f"The invitation works once and expires on {row['expires_at']:%Y-%m-%d %H:%M} UTC.\n"
        ),
    )


async def _send_after_commit(mailer: Mailer, invitation_id: uuid.UUID, token: str, base_url: str) -> None:
    async def send() -> None:
        row = await Invitation.select(*COLUMNS).where(Invitation.id == invitation_id).first()
        if row is None:
            return
        try:
            await mailer.send(_mail(row, token, base_url))
        except Exception as exc:  # the invitation stands; resending tries again
            log.warning("could not send invitation %s to %s: %s", invitation_id, row["email"], exc)

    await after_commit(send)


async def create_invitation(
    principal: Principal, slug: str, data: InvitationCreate, mailer: Mailer, settings: Settings, base_url: str
) -> InvitationRead:
    access = await access_for_org(principal, slug=slug, permission=PERMISSION)
    email = normalize_email(data.email)
    role = await grantable_role(access, data.role)
    member = Member.user._.email == email
    if await Member.exists().where((Member.organization == access.organization_id) & member):
        raise Conflict(
            "this person is already a member",
            errors=[FieldError("email", "already a member")],
            code="already-member",
        )
    now = utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(
        id=uuid.uuid4(),
        organization=access.organization_id,
        email=email,
        role=role["id"],
        token_hash=sha256_hex(token),
        invited_by=principal.user_id,
        invited_by_label=principal.label[:320],
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.notify.invitation_ttl),
        last_sent_at=now,
        send_count=1,
    )
    try:
        async with transaction():
            # An expired invitation no longer stands in the way of a new one.
            await Invitation.update({Invitation.revoked_at: now}).where(
                (Invitation.organization == access.organization_id)
                & (Invitation.email == email)
                & Invitation.accepted_at.is_null()
                & Invitation.revoked_at.is_null()
                & (Invitation.expires_at <= now)
            )
            await Invitation.insert(invitation)
            org = (
                await Organization.select(Organization.name)
                .where(Organization.id == access.organization_id)
                .first()
            )
            details = {"invitation_id": str(invitation.id), "email": email, "role": role["name"]}
            await audit.record(
                principal,
                "invitation.create",
                organization_id=access.organization_id,
                object_type="invitation",
                object_id=invitation.id,
                details=details,
            )
            await emit(
                principal,
                "invitation.created",
                organization_id=access.organization_id,
                object_type="invitation",
                object_id=invitation.id,
                data=details
                | {"organization_name": org["name"] if org else slug, "invited_by": principal.label},
            )
            await _send_after_commit(mailer, invitation.id, token, base_url)
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(
                "an invitation for this email is pending; resend or revoke it",
                errors=[FieldError("email", "already invited")],
                code="invitation-pending",
            ) from None
        raise
    return await _one(invitation.id)


async def _one(invitation_id: uuid.UUID) -> InvitationRead:
    row = await Invitation.select(*COLUMNS).where(Invitation.id == invitation_id).first()
    if row is None:
        raise not_found("invitation")
    return invitation_read(row, utcnow())


async def list_invitations(principal: Principal, slug: str, status: str | None = "pending") -> InvitationList:
    """Pending ones by default; ``status`` picks another (``all`` for every one)."""
    access = await access_for_org(principal, slug=slug, permission=PERMISSION)
    rows = await scoped(Invitation, access, *COLUMNS).order_by(Invitation.created_at, ascending=False)
    now = utcnow()
    items = [invitation_read(r, now) for r in rows]
    return InvitationList(items=[i for i in items if status in (None, "all", i.status)])


async def _managed(principal: Principal, invitation_id: uuid.UUID) -> tuple[Access, dict[str, Any]]:
    row = await Invitation.select(*COLUMNS).where(Invitation.id == invitation_id).first()
    if row is None:
        raise not_found("invitation")
    try:
        access = await access_for_org(principal, org_id=row["organization"])
    except NotFound:
        raise not_found("invitation") from None
    access.require(PERMISSION)
    return access, row


async def resend(
    principal: Principal, invitation_id: uuid.UUID, mailer: Mailer, settings: Settings, base_url: str
) -> InvitationRead:
    """A new token (the old link stops working) and a new expiry, sent again."""
    access, row = await _managed(principal, invitation_id)
    now = utcnow()
    if row["accepted_at"] is not None or row["revoked_at"] is not None:
        raise Conflict(f"this invitation was {_status(row, now)}; send a new one", code="invitation-closed")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with transaction():
        changed = (
            await Invitation.update(
                {
                    Invitation.token_hash: sha256_hex(token),
                    Invitation.expires_at: now + dt.timedelta(seconds=settings.notify.invitation_ttl),
                    Invitation.last_sent_at: now,
                    Invitation.send_count: Invitation.send_count + 1,
                }
            )
            .where(
                (Invitation.id == invitation_id)
                & Invitation.accepted_at.is_null()
                & Invitation.revoked_at.is_null()
            )
            .returning(Invitation.id)
        )
        if not changed:
            raise Conflict("this invitation was accepted or revoked meanwhile", code="invitation-closed")
        await audit.record(
            principal,
            "invitation.resend",
            organization_id=access.organization_id,
            object_type="invitation",
            object_id=invitation_id,
            details={"email": row["email"]},
        )
        await _send_after_commit(mailer, invitation_id, token, base_url)
    return await _one(invitation_id)


async def revoke(principal: Principal, invitation_id: uuid.UUID) -> None:
    """Its token stops working. Revoking twice is fine; an accepted invitation cannot be revoked
    (remove the member instead)."""
    access, row = await _managed(principal, invitation_id)
    if row["accepted_at"] is not None:
        raise Conflict("this invitation was accepted; remove the member instead", code="invitation-closed")
    async with transaction():
        changed = (
            await Invitation.update({Invitation.revoked_at: utcnow()})
            .where(
                (Invitation.id == invitation_id)
                & Invitation.accepted_at.is_null()
                & Invitation.revoked_at.is_null()
            )
            .returning(Invitation.id)
        )
        if changed:
            details = {"invitation_id": str(invitation_id), "email": row["email"], "role": row["role.name"]}
            await audit.record(
                principal,
                "invitation.revoke",
                organization_id=access.organization_id,
                object_type="invitation",
                object_id=invitation_id,
                details=details,
            )
            await emit(
                principal,
                "invitation.revoked",
                organization_id=access.organization_id,
                object_type="invitation",
                object_id=invitation_id,
                data=details,
            )


def _closed(row: dict[str, Any], now: dt.datetime) -> Conflict | None:
    status = _status(row, now)
    if status == "pending":
        return None
    return Conflict(f"this invitation has been {status}; ask for a new one", code=f"invitation-{status}")


async def accept(
    principal: Principal | None,
    token: str,
    data: InvitationAccept | None,
    auth_service: AuthService,
    client: Client,
) -> InvitationAccepted:
    """Join the organization: as the signed-in ``principal`` (whose email must be the invited one),
    or, with no principal, as a new account registered with the invited email and ``data``."""
    row = await Invitation.select(*COLUMNS).where(Invitation.token_hash == sha256_hex(token)).first()
    if row is None:
        raise not_found("invitation")
    closed = _closed(row, utcnow())
    if closed is not None:
        raise closed
    tokens: dict[str, Any] = {}
    if principal is not None:
        if principal.kind != "user" or principal.user_id is None:
            raise Forbidden("an invitation is accepted by a person: sign in, not with an API key")
        if data is not None and (data.password is not None or data.name is not None):
            raise ValidationFailed(
                "you are signed in: accepting needs no name or password",
                errors=[
                    FieldError(f, "not needed when signed in")
                    for f in ("name", "password")
                    if getattr(data, f)
                ],
            )
        user = await User.objects().where(User.id == principal.user_id).first()
        if user is None or user.email != row["email"]:
            raise Forbidden("this invitation is for another email address", code="invitation-email-mismatch")
        actor = principal
    else:
        missing = [f for f in ("name", "password") if data is None or getattr(data, f) is None]
        if missing:
            raise ValidationFailed(
                "without signing in, a name and a password create the invited account",
                errors=[FieldError(f, "required when not signed in") for f in missing],
            )
        assert data is not None and data.name is not None and data.password is not None
        registered = await auth_service.register(
            RegisterRequest(email=row["email"], password=data.password, name=data.name), client
        )
        tokens = {
            "access_token": registered.access_token,
            "refresh_token": registered.refresh_token,
            "expires_in": registered.expires_in,
        }
        user = await User.objects().where(User.id == registered.user.id).first()
        assert user is not None
        actor = user_principal(user.id, user.email, None, client)
    await _join(actor, row, user.id)
    org = await Organization.objects().where(Organization.id == row["organization"]).first()
    assert org is not None
    return InvitationAccepted(
        organization=org_read(org, row["role.name"]),
        role=row["role.name"],
        user=UserRead(id=user.id, email=user.email, name=user.name, created_at=user.created_at),
        **tokens,
    )


async def _join(actor: Principal, row: dict[str, Any], user_id: uuid.UUID) -> None:
    """Use the invitation (once: a conditional UPDATE) and add the member, in one transaction."""
    now = utcnow()
    organization = row["organization"]
    try:
        async with transaction():
            used = (
                await Invitation.update({Invitation.accepted_at: now, Invitation.accepted_by: user_id})
                .where(
                    (Invitation.id == row["id"])
                    & Invitation.accepted_at.is_null()
                    & Invitation.revoked_at.is_null()
                    & (Invitation.expires_at > now)
                )
                .returning(Invitation.id)
            )
            if not used:
                raise Conflict("this invitation was used or revoked meanwhile", code="invitation-closed")
            await Member.insert(
                Member(organization=organization, user=user_id, role=row["role"], created_at=now)
            )
            await renew_after_commit(org_generation(organization))
            details = {
                "invitation_id": str(row["id"]),
                "user_id": str(user_id),
                "email": row["email"],
                "role": row["role.name"],
            }
            await audit.record(
                actor,
                "invitation.accept",
                organization_id=organization,
                object_type="invitation",
                object_id=row["id"],
                details=details,
            )
            await audit.record(
                actor,
                "member.add",
                organization_id=organization,
                object_type="user",
                object_id=user_id,
                details={"email": row["email"], "role": row["role.name"], "invitation_id": str(row["id"])},
            )
            await emit(
                actor,
                "invitation.accepted",
                organization_id=organization,
                object_type="invitation",
                object_id=row["id"],
                data=details,
            )
            await emit(
                actor,
                "member.added",
                organization_id=organization,
                object_type="user",
                object_id=user_id,
                data={"user_id": str(user_id), "email": row["email"], "role": row["role.name"]},
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict("you are already a member of this organization", code="already-member") from None
        raise
