"""Authenticating API keys: what a key may do, read in one query, or in none while a remembered
answer is still current.

A key belongs to one organization and follows the member who created it: it works while it is
neither revoked nor expired and its creator is still a member of that organization, and its
effective permissions are its scopes intersected with the creator's current role. A developer
demoted to viewer takes their keys down with them; a removed member's keys stop at once. (A key
created with an API key records that key's creator.) There are no organization-owned "service"
keys: automation that must outlive a person uses a member account of its own, whose role bounds
its keys like anyone's.

The answer for a key is remembered per process under two generation tokens
(``app.lib.generations``), read by the request gate in the call it makes anyway: the key's own
(``apikey:<id>``, renewed when it is revoked or rotated) and its organization's (``org:<id>``,
renewed by every membership change). Expiry is checked on every request. A hash is linked to its
key's id and organization on first sight (those never change; rotation gives the key a new
hash), so from the second request on the gate can read the tokens before the database is asked.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace

from app.accounts.tables import ApiKey
from app.lib.generations import org_generation

REMEMBER_SECONDS = 60.0  # bounds what a renewal that could not reach Redis leaves behind
REMEMBER_MAX_ENTRIES = 20_000

# One round trip: the key, its organization, and its creator's membership and role.
_KEY_SQL = """
SELECT k.id AS id, k.prefix AS prefix, k.scopes AS scopes, k.expires_at AS expires_at,
       k.revoked_at AS revoked_at, k.last_used_at AS last_used_at, k.created_by AS created_by,
       k.organization AS organization_id, o.slug AS organization_slug, m.id AS member_id,
       r.permissions AS creator_permissions
FROM api_keys k
JOIN organizations o ON o.id = k.organization
LEFT JOIN organization_members m ON m.organization = k.organization AND m."user" = k.created_by
LEFT JOIN roles r ON r.id = m.role
WHERE k.secret_hash = {}
"""


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """What the database said about a key."""

    id: uuid.UUID
    prefix: str
    organization_id: uuid.UUID
    organization_slug: str
    created_by: uuid.UUID | None
    scopes: frozenset[str]  # effective: the key's scopes within its creator's permissions
    expires_at: dt.datetime | None
    revoked: bool
    creator_is_member: bool
    last_used_at: dt.datetime | None


def apikey_generation(key_id: object) -> str:
    return f"apikey:{key_id}"


def key_generations(key_id: uuid.UUID, organization_id: uuid.UUID) -> tuple[str, str]:
    return apikey_generation(key_id), org_generation(organization_id)


def _json_list(raw: object) -> list[str]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    return [str(p) for p in raw] if isinstance(raw, list) else []


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _timestamp(value: object) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def effective_scopes(scopes: object, creator_permissions: object) -> frozenset[str]:
    return frozenset(_json_list(scopes)) & frozenset(_json_list(creator_permissions))


async def load(secret_hash: str) -> KeyFacts | None:
    rows = await ApiKey.raw(_KEY_SQL, secret_hash)
    if not rows:
        return None
    row = rows[0]
    member = row["member_id"] is not None
    created_by = row["created_by"]
    return KeyFacts(
        id=_uuid(row["id"]),
        prefix=row["prefix"],
        organization_id=_uuid(row["organization_id"]),
        organization_slug=row["organization_slug"],
        created_by=_uuid(created_by) if created_by is not None else None,
        scopes=effective_scopes(row["scopes"], row["creator_permissions"]) if member else frozenset(),
        expires_at=_timestamp(row["expires_at"]),
        revoked=row["revoked_at"] is not None,
        creator_is_member=member,
        last_used_at=_timestamp(row["last_used_at"]),
    )


@dataclass(slots=True)
class _Remembered:
    tokens: tuple[str, ...]
    expires: float
    facts: KeyFacts


class KeyMemory:
    """Per process: which key and organization a hash names, and the facts last read for it,
    stamped with the generation tokens read before that query."""

    def __init__(self) -> None:
        self.names: dict[str, tuple[uuid.UUID, tuple[str, str]]] = {}
        self.facts: OrderedDict[str, _Remembered] = OrderedDict()

    def learn(self, secret_hash: str, facts: KeyFacts) -> None:
        if secret_hash not in self.names:
            if len(self.names) >= REMEMBER_MAX_ENTRIES:
                self.names.clear()
            self.names[secret_hash] = (facts.id, key_generations(facts.id, facts.organization_id))

    def recall(self, secret_hash: str, tokens: tuple[str, ...]) -> KeyFacts | None:
        entry = self.facts.get(secret_hash)
        if entry is None:
            return None
        if entry.tokens != tokens or entry.expires <= time.monotonic():
            del self.facts[secret_hash]
            return None
        self.facts.move_to_end(secret_hash)
        return entry.facts

    def remember(self, secret_hash: str, tokens: tuple[str, ...], facts: KeyFacts) -> None:
        self.facts[secret_hash] = _Remembered(tokens, time.monotonic() + REMEMBER_SECONDS, facts)
        self.facts.move_to_end(secret_hash)
        while len(self.facts) > REMEMBER_MAX_ENTRIES:
            self.facts.popitem(last=False)

    def touched(self, secret_hash: str, at: dt.datetime) -> None:
        entry = self.facts.get(secret_hash)
        if entry is not None:
            entry.facts = replace(entry.facts, last_used_at=at)
