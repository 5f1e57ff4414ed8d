"""Comments on designs: threaded one level deep, optionally anchored to a node of a version,
resolvable per thread. Authors edit and delete their own; organization admins delete any.

A deleted comment that has replies keeps its place in the thread with its text removed, so the
replies still make sense; without replies it is removed.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.accounts.authz import Principal
from app.db import for_update, transaction
from app.designs.access import DesignAccess, design_access
from app.designs.events import DesignEvents
from app.designs.schemas import (
    CommentCreate,
    CommentPage,
    CommentRead,
    CommentThread,
    CommentUpdate,
    EventType,
)
from app.designs.tables import Comment, Design, DesignVersion, Resource
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import FieldError, Forbidden, NotFound, ValidationFailed, not_found
from app.lib.pagination import Keyset
from app.terraform.canvas import decode_canvas


def _read(row: dict[str, Any], cls: type[CommentRead] = CommentRead) -> Any:
    deleted = row["deleted_at"] is not None
    return cls(
        id=row["id"],
        design_id=row["design"],
        parent_id=row["parent_id"],
        author_id=row["author_id"],
        author=row["author_label"],
        body="" if deleted else row["body"],
        node_id=row["node_id"],
        version=row["version"],
        resolved=row["resolved_at"] is not None,
        resolved_at=row["resolved_at"],
        resolved_by=row["resolved_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted=deleted,
    )


async def _node_exists(access: DesignAccess, node_id: str, version: int) -> bool:
    if version == access.current_version:
        return bool(
            await Resource.exists().where(
                (Resource.design == access.design_id) & (Resource.node_id == node_id)
            )
        )
    row = (
        await DesignVersion.select(DesignVersion.canvas)
        .where((DesignVersion.design == access.design_id) & (DesignVersion.number == version))
        .first()
    )
    return row is not None and any(n.id == node_id for n in decode_canvas(bytes(row["canvas"])).nodes)


async def _comment(design_id: uuid.UUID | None, comment_id: uuid.UUID) -> dict[str, Any]:
    query = Comment.select().where(Comment.id == comment_id)
    if design_id is not None:
        query = query.where(Comment.design == design_id)
    row = await query.first()
    if row is None:
        raise not_found("comment")
    return row


async def add_comment(
    principal: Principal, events: DesignEvents, design_id: uuid.UUID, data: CommentCreate
) -> CommentRead:
    access = await design_access(principal, design_id, "comment")
    errors: list[FieldError] = []  # every failing field at once
    parent_id = None
    if data.parent_id is not None:
        try:
            parent = await _comment(design_id, data.parent_id)
            parent_id = parent["parent_id"] or parent["id"]  # replies attach to the thread's root
        except NotFound:
            errors.append(FieldError("parent_id", "no such comment on this design"))
    version = data.version
    if version is None and data.node_id is not None:
        version = access.current_version  # an anchor without a version is on the current one
    if version is not None:
        if not 1 <= version <= access.current_version:
            errors.append(FieldError("version", "no such version"))
        elif data.node_id is not None and not await _node_exists(access, data.node_id, version):
            errors.append(FieldError("node_id", f"version {version} has no node {data.node_id!r}"))
    if errors:
        raise ValidationFailed(f"invalid value for {', '.join(e.field for e in errors)}", errors=errors)
    now = utcnow()
    comment = Comment(
        organization=access.organization_id,
        design=design_id,
        parent_id=parent_id,
        author_id=principal.user_id,
        author_label=principal.label[:320],
        body=data.body,
        node_id=data.node_id,
        version=version,
        created_at=now,
        updated_at=now,
    )
    async with transaction():
        if parent_id is not None:  # serialize with deletions, which remove reply-less comments
            await for_update(Design.select(Design.id).where(Design.id == design_id))
            if not await Comment.exists().where(Comment.id == parent_id):
                raise ValidationFailed(
                    "the comment was deleted", errors=[FieldError("parent_id", "no such comment")]
                )
        await Comment.insert(comment)
        await audit.record(
            principal,
            "comment.create",
            organization_id=access.organization_id,
            object_type="comment",
            object_id=comment.id,
            details={"design_id": str(design_id), "node_id": data.node_id, "parent_id": str(parent_id or "")},
        )
    events.publish(
        design_id,
        "comment.added",
        principal,
        {
            "comment_id": str(comment.id),
            "parent_id": str(parent_id) if parent_id else None,
            "node_id": data.node_id,
        },
    )
    return _read(comment.to_dict())


async def list_comments(
    principal: Principal,
    design_id: uuid.UUID,
    *,
    node_id: str | None,
    resolved: bool | None,
    cursor: str | None,
    limit: int,
) -> CommentPage:
    """Threads (oldest first) with their replies; filters apply to the threads' root comments."""
    await design_access(principal, design_id, "read")
    query = Comment.select().where((Comment.design == design_id) & Comment.parent_id.is_null())
    if node_id is not None:
        query = query.where(Comment.node_id == node_id)
    if resolved is True:
        query = query.where(Comment.resolved_at.is_not_null())
    elif resolved is False:
        query = query.where(Comment.resolved_at.is_null())
    keyset = Keyset(Comment.created_at, Comment.id, descending=False)
    roots, next_cursor = keyset.page(await keyset.apply(query, cursor, limit), limit)
    replies: dict[uuid.UUID, list[CommentRead]] = {}
    if roots:
        rows = (
            await Comment.select()
            .where(Comment.parent_id.is_in([r["id"] for r in roots]))
            .order_by(Comment.created_at)
            .order_by(Comment.id)
        )
        for row in rows:
            replies.setdefault(row["parent_id"], []).append(_read(row))
    threads = []
    for root in roots:
        thread: CommentThread = _read(root, CommentThread)
        thread.replies = replies.get(root["id"], [])
        threads.append(thread)
    return CommentPage(items=threads, next_cursor=next_cursor)


async def _access_for_comment(
    principal: Principal, comment_id: uuid.UUID
) -> tuple[DesignAccess, dict[str, Any]]:
    """The comment and the caller's access to its design (a comment on a design the caller cannot
    see is "not found")."""
    row = await _comment(None, comment_id)
    try:
        access = await design_access(principal, row["design"], "read")
    except NotFound:
        raise not_found("comment") from None
    return access, row


async def update_comment(
    principal: Principal, events: DesignEvents, comment_id: uuid.UUID, data: CommentUpdate
) -> CommentRead:
    """Edit the text (author only) and/or resolve or reopen a thread (anyone who may comment)."""
    access, row = await _access_for_comment(principal, comment_id)
    access.require("comment")
    if row["deleted_at"] is not None:
        raise not_found("comment")
    changes: dict[Any, Any] = {}
    if isinstance(data.body, str):
        if row["author_id"] is None or row["author_id"] != principal.user_id:
            raise Forbidden("only the author can edit a comment")
        changes[Comment.body] = data.body
    resolved_change: bool | None = None
    if isinstance(data.resolved, bool):
        if row["parent_id"] is not None:
            raise ValidationFailed(
                "replies cannot be resolved; resolve the thread's first comment",
                errors=[FieldError("resolved", "not a thread")],
            )
        if data.resolved != (row["resolved_at"] is not None):
            resolved_change = data.resolved
            changes[Comment.resolved_at] = utcnow() if data.resolved else None
            changes[Comment.resolved_by] = principal.user_id if data.resolved else None
    if changes:
        async with transaction():
            updated = (
                await Comment.update({**changes, Comment.updated_at: utcnow()})
                .where((Comment.id == comment_id) & Comment.deleted_at.is_null())
                .returning(*Comment.all_columns())
            )
            if not updated:  # deleted since it was read
                raise not_found("comment")
            row = updated[0]
            await audit.record(
                principal,
                "comment.update"
                if resolved_change is None
                else ("comment.resolve" if resolved_change else "comment.reopen"),
                organization_id=access.organization_id,
                object_type="comment",
                object_id=comment_id,
                details={"design_id": str(access.design_id), "edited": Comment.body in changes},
            )
        event: EventType = "comment.resolved" if resolved_change is not None else "comment.updated"
        data_out: dict[str, Any] = {"comment_id": str(comment_id)}
        if resolved_change is not None:
            data_out["resolved"] = resolved_change
        events.publish(access.design_id, event, principal, data_out)
    return _read(row)


async def delete_comment(principal: Principal, events: DesignEvents, comment_id: uuid.UUID) -> None:
    """Authors delete their own comments; organization admins delete any."""
    access, row = await _access_for_comment(principal, comment_id)
    is_author = row["author_id"] is not None and row["author_id"] == principal.user_id
    if not is_author and not access.can("moderate"):
        raise Forbidden("only the author or an organization admin can delete this comment")
    if row["deleted_at"] is not None:
        raise not_found("comment")
    async with transaction():
        await for_update(Design.select(Design.id).where(Design.id == access.design_id))
        has_replies = await Comment.exists().where(Comment.parent_id == comment_id)
        if has_replies:
            await Comment.update({Comment.deleted_at: utcnow(), Comment.body: ""}).where(
                Comment.id == comment_id
            )
        else:
            await Comment.delete().where(Comment.id == comment_id)
        await audit.record(
            principal,
            "comment.delete",
            organization_id=access.organization_id,
            object_type="comment",
            object_id=comment_id,
            details={"design_id": str(access.design_id), "author_id": str(row["author_id"])},
        )
    events.publish(access.design_id, "comment.deleted", principal, {"comment_id": str(comment_id)})
