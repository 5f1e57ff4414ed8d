"""Designs tables: designs, immutable versions, templates, resources, shares and comments.

Canvases are stored as canonical JSON bytes (``Bytea``/``BLOB``), never as JSONB: the bytes are
exactly what was hashed (``content_hash``), reads ship them into responses without re-parsing, and
both engines store them the same way. Composite and partial unique indexes live in the
hand-written migration (Piccolo cannot express them on both engines).
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    UUID,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.accounts.tables import Organization, User


class Template(Table, tablename="templates"):
    """A reusable canvas. ``organization`` is null for the seeded, public catalogue.

    Unique slug among seeded templates and per organization (partial indexes, see migrations).
    """

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, null=True, index=True)
    slug = Varchar(length=100)
    name = Varchar(length=200)
    description = Text(default="")
    cloud_provider = Varchar(length=32, default="")
    tags = JSON(default=[])
    public = Boolean(default=False)
    canvas = Bytea()
    content_hash = Varchar(length=64)
    node_count = Integer(default=0)
    source_design = UUID(null=True, default=None)
    source_version = Integer(null=True, default=None)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    revision = Integer(default=1)


class Design(Table, tablename="designs"):
    """A canvas that evolves through immutable versions; ``current_version`` 0 means no version yet.

    ``revision`` grows on every change to the design or its current version: it names cache entries
    and ETags. Soft-deleted rows keep ``deleted_at``; names are unique among live designs.
    """

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=200)
    description = Text(default="")
    cloud_provider = Varchar(length=32, default="")
    status = Varchar(length=16, default="draft")
    template = ForeignKey(references=Template, on_delete=OnDelete.set_null, null=True, default=None)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    current_version = Integer(default=0)
    current_hash = Varchar(length=64, default="")
    revision = Integer(default=1)
    deleted_at = Timestamptz(null=True, default=None)
    # The environments its pipelines apply it to (written by the pipelines domain): a list of
    # {environment, pipeline_id, state, last_applied_version, last_applied_at}.
    environments = JSON(default=[])


class DesignVersion(Table, tablename="design_versions"):
    """An immutable snapshot of a design's canvas. Unique (design, number); updates are refused."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    design = ForeignKey(references=Design, on_delete=OnDelete.cascade, index=True)
    number = Integer()
    message = Text(default="")
    author_id = UUID(null=True, default=None)
    author_label = Varchar(length=320, default="")
    created_at = Timestamptz()
    content_hash = Varchar(length=64)
    canvas = Bytea()
    node_count = Integer(default=0)
    edge_count = Integer(default=0)
    size_bytes = Integer(default=0)
    restored_from = Integer(null=True, default=None)


class Resource(Table, tablename="resources"):
    """One row per node of a design's current version, for search across designs."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    design = ForeignKey(references=Design, on_delete=OnDelete.cascade, index=True)
    node_id = Varchar(length=128)
    type = Varchar(length=128)
    provider = Varchar(length=64, default="")
    name = Varchar(length=128)
    properties = JSON(default={})
    node_hash = Varchar(length=32)
    updated_at = Timestamptz()


class DesignShare(Table, tablename="design_shares"):
    """Gives one user ``view``, ``comment`` or ``edit`` on one design. Unique (design, user)."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    design = ForeignKey(references=Design, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    permission = Varchar(length=16)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Comment(Table, tablename="comments"):
    """A comment on a design, optionally anchored to a node (and the version it was made on).

    Threads are one level deep: ``parent_id`` points at the thread's root. Only roots resolve.
    """

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    design = ForeignKey(references=Design, on_delete=OnDelete.cascade, index=True)
    parent_id = UUID(null=True, default=None, index=True)
    author_id = UUID(null=True, default=None)
    author_label = Varchar(length=320, default="")
    body = Text(default="")
    node_id = Varchar(length=128, null=True, default=None)
    version = Integer(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = UUID(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)
