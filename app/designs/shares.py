"""Design shares: one user gets ``view``, ``comment`` or ``edit`` on one design.

Members with ``design:write`` manage shares; a shared user may drop their own share. Access is
resolved from the table on every request (``app.designs.access``), so a revoked share stops
working at once, and an open event stream of that user is closed on the ``share.changed`` event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.accounts.authz import Principal
from app.accounts.emails import normalize_email
from app.accounts.tables import User
from app.db import for_update, on_unique_violation, transaction
from app.designs.access import DesignAccess, design_access, design_access_changed
from app.designs.designs import summary_columns, summary_from_row
from app.designs.events import DesignEvents
from app.designs.schemas import ShareCreate, SharedDesign, SharedDesignPage, ShareRead
from app.designs.tables import DesignShare
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import Conflict, FieldError, Forbidden, ValidationFailed, not_found
from app.lib.pagination import Keyset

_COLUMNS = (
    DesignShare.id,
    DesignShare.design,
    DesignShare.user,
    DesignShare.user.email,
    DesignShare.user.name,
    DesignShare.permission,
    DesignShare.created_by,
    DesignShare.created_at,
    DesignShare.updated_at,
)


def _read(row: dict[str, Any]) -> ShareRead:
    return ShareRead(
        id=row["id"],
        design_id=row["design"],
        user_id=row["user"],
        email=row["user.email"],
        name=row["user.name"],
        permission=row["permission"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def list_shares(principal: Principal, design_id: uuid.UUID) -> list[ShareRead]:
    """Who the design is shared with (organization members only)."""
    access = await design_access(principal, design_id, "read")
    if not access.member:
        raise Forbidden("only members of the design's organization see its shares")
    rows = (
        await DesignShare.select(*_COLUMNS)
        .where(DesignShare.design == design_id)
        .order_by(DesignShare.created_at)
    )
    return [_read(r) for r in rows]


async def share_design(
    principal: Principal, events: DesignEvents, design_id: uuid.UUID, data: ShareCreate
) -> tuple[ShareRead, bool]:
    """Share with a registered user, or change an existing share's permission (``created`` False)."""
    access = await design_access(principal, design_id, "manage")
    email = normalize_email(data.email)
    user = await User.select(User.id).where(User.email == email).first()
    if user is None:
        raise ValidationFailed(
            "no user with this email", errors=[FieldError("email", "no such user")], code="unknown-user"
        )
    if user["id"] == principal.user_id:
        raise ValidationFailed(
            "you cannot share a design with yourself", errors=[FieldError("email", "yourself")]
        )
    now = utcnow()
    with on_unique_violation(Conflict("the design was shared with this user concurrently; retry")):
        share_id, created = await _upsert_share(principal, access, design_id, user["id"], email, data, now)
    events.publish(
        design_id, "share.changed", principal, {"user_id": str(user["id"]), "permission": data.permission}
    )
    row = await DesignShare.select(*_COLUMNS).where(DesignShare.id == share_id).first()
    if row is None:  # revoked between the commit and this read
        raise not_found("share")
    return _read(row), created


async def _upsert_share(
    principal: Principal,
    access: DesignAccess,
    design_id: uuid.UUID,
    user_id: uuid.UUID,
    email: str,
    data: ShareCreate,
    now: dt.datetime,
) -> tuple[uuid.UUID, bool]:
    async with transaction():
        existing = await for_update(
            DesignShare.select(DesignShare.id, DesignShare.permission).where(
                (DesignShare.design == design_id) & (DesignShare.user == user_id)
            )
        ).first()
        if existing is None:
            share = DesignShare(
                organization=access.organization_id,
                design=design_id,
                user=user_id,
                permission=data.permission,
                created_by=principal.user_id,
                created_at=now,
                updated_at=now,
            )
            await DesignShare.insert(share)
            share_id, created = share.id, True
        else:
            share_id, created = existing["id"], False
            await DesignShare.update(
                {DesignShare.permission: data.permission, DesignShare.updated_at: now}
            ).where(DesignShare.id == share_id)
        await design_access_changed(design_id)
        await audit.record(
            principal,
            "design.share.create" if created else "design.share.update",
            organization_id=access.organization_id,
            object_type="design",
            object_id=design_id,
            details={"user_id": str(user_id), "email": email, "permission": data.permission},
        )
    return share_id, created


async def revoke_share(
    principal: Principal, events: DesignEvents, design_id: uuid.UUID, share_id: uuid.UUID
) -> None:
    """Remove a share (managers), or drop one's own share. Takes effect on the next request."""
    access = await design_access(principal, design_id, None)
    async with transaction():
        row = await for_update(
            DesignShare.select(DesignShare.id, DesignShare.user).where(
                (DesignShare.id == share_id) & (DesignShare.design == design_id)
            )
        ).first()
        if row is None:
            raise not_found("share")
        if row["user"] != principal.user_id:
            access.require("manage")
        await DesignShare.delete().where(DesignShare.id == share_id)
        await design_access_changed(design_id)
        await audit.record(
            principal,
            "design.share.delete",
            organization_id=access.organization_id,
            object_type="design",
            object_id=design_id,
            details={"user_id": str(row["user"])},
        )
    events.publish(design_id, "share.changed", principal, {"user_id": str(row["user"]), "permission": None})


async def shared_with_me(principal: Principal, cursor: str | None, limit: int) -> SharedDesignPage:
    """Live designs shared with the calling user, newest share first."""
    if principal.user_id is None:
        return SharedDesignPage(items=[])
    query = DesignShare.select(
        DesignShare.id,
        DesignShare.permission,
        DesignShare.created_at,
        *summary_columns(DesignShare.design),
    ).where((DesignShare.user == principal.user_id) & DesignShare.design.deleted_at.is_null())
    keyset = Keyset(DesignShare.created_at, DesignShare.id)
    rows = await keyset.apply(query, cursor, limit)
    page, next_cursor = keyset.page(rows, limit)
    items = [
        SharedDesign(
            design=summary_from_row(r, prefix="design."),
            permission=r["permission"],
            shared_at=r["created_at"],
        )
        for r in page
    ]
    return SharedDesignPage(items=items, next_cursor=next_cursor)
