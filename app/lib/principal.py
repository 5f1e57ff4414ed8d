"""Who is acting: the authenticated caller of a request or the actor of a background job.

It sits below every domain, so the audit writer and domain events (``app.events``) can name the
actor without importing the accounts domain that resolves it (``app.accounts.authz``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PrincipalKind = Literal["user", "api_key", "run", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request or the actor of a background job."""

    kind: PrincipalKind
    id: uuid.UUID
    label: str
    user_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None  # API keys and run tokens belong to one organization
    organization_slug: str | None = None  # ...named here too, so their access needs no query
    scopes: frozenset[str] | None = None  # API keys and run tokens carry fixed permissions
    session_id: uuid.UUID | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    # The generation tokens the request's gate read before the handler ran (app.lib.generations).
    generations: Mapping[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def actor_id(self) -> uuid.UUID | None:
        """Who to record as the actor: the user, the API key or run, or nobody for the system."""
        if self.kind == "system":
            return None
        return self.user_id if self.kind == "user" else self.id
