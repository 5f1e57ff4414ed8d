"""Seed the permission catalogue and the built-in roles (idempotent: stable ids, upserts)."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column

from app.accounts.permissions import BUILTIN_ROLES, PERMISSIONS
from app.accounts.tables import Permission, Role
from app.db import transaction
from app.lib.clock import utcnow


async def seed() -> None:
    async with transaction():
        existing = {r["code"] for r in await Permission.select(Permission.code)}
        for code, description in PERMISSIONS.items():
            if code in existing:
                await Permission.update({Permission.description: description}).where(Permission.code == code)
            else:
                await Permission.insert(Permission(code=code, description=description))
        for role in BUILTIN_ROLES:
            values: dict[Column | str, Any] = {
                Role.name: role.name,
                Role.description: role.description,
                Role.permissions: sorted(role.permissions),
                Role.builtin: True,
                Role.rank: role.rank,
            }
            if not await Role.exists().where(Role.id == role.id):
                await Role.insert(Role(id=role.id, organization=None, created_at=utcnow(), name=role.name))
            await Role.update(values).where(Role.id == role.id)
