"""Master keys in operation: the start-up canary check and ``board3 keys rotate``.

Canary: one known plaintext per key id, encrypted when that key is first active. At start-up the
active key must decrypt its canary (same id with other key material is refused), every configured
key that has a canary must decrypt it, and every key id that stored versions depend on must be
configured. Otherwise the process refuses to start and says which key is wrong.

Rotation re-wraps data keys, never the ciphertext: each row is updated only if it still holds the
wrapped key that was read (a conditional UPDATE), in small committed batches, so it is idempotent,
resumable after an interruption and safe next to a running server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from piccolo.query.functions.aggregate import Count

from app.lib import crypto
from app.lib.clock import utcnow
from app.states.sealing import context, envelope
from app.states.tables import EncryptionCanary, StateVersion

log = logging.getLogger("board3.keys")

CANARY_PLAINTEXT = b"board3 encryption canary v1"


class KeyCheckFailed(RuntimeError):
    """The configured keys cannot read what the database holds; the message says what to fix."""


def _canary_context(kid: str) -> dict[str, str]:
    return {"canary": kid}


def _check_canary(keyring: crypto.Keyring, kid: str, row: dict[str, Any]) -> None:
    try:
        plain = keyring.decrypt(envelope(row), _canary_context(kid))
    except crypto.DecryptionError:
        plain = b""
    if plain != CANARY_PLAINTEXT:
        raise KeyCheckFailed(
            f"encryption key {kid!r} is not the key this database was encrypted with: it cannot unwrap "
            f"the stored canary. Check {crypto.ENV_VAR} (or the data dir key file) holds the original "
            "key material for this key id; refusing to start so no state is written under a wrong key"
        )


async def check_keyring(keyring: crypto.Keyring | None = None) -> None:
    """Raise KeyCheckFailed unless the keyring can read everything stored. Creates the active
    key's canary on first use."""
    ring = keyring or crypto.get_keyring()
    rows = {r["key_id"]: r for r in await EncryptionCanary.select()}
    active = ring.active.kid
    if active not in rows:
        env = ring.encrypt(CANARY_PLAINTEXT, _canary_context(active))
        await EncryptionCanary.insert(
            EncryptionCanary(
                key_id=active,
                enc_format=env.format,
                wrapped_key=env.wrapped_key,
                ciphertext=env.ciphertext,
                created_at=utcnow(),
            )
        ).on_conflict(action="DO NOTHING")
        rows = {r["key_id"]: r for r in await EncryptionCanary.select()}
    for kid in ring.key_ids:
        if kid in rows:
            _check_canary(ring, kid, rows[kid])
    used = {r["key_id"] for r in await StateVersion.select(StateVersion.key_id).distinct()}
    missing = sorted(used - set(ring.key_ids))
    if missing:
        raise KeyCheckFailed(
            f"stored state versions are encrypted under key id(s) {', '.join(missing)}, which "
            f"{crypto.ENV_VAR} does not contain. Add them back (after the active key) and run "
            "`board3 keys rotate` before retiring them"
        )


@dataclass
class RotationReport:
    rewrapped: int = 0
    skipped: int = 0  # changed by someone else between read and update (picked up next pass)
    remaining: int = 0


async def rotate(
    keyring: crypto.Keyring | None = None,
    *,
    batch_size: int = 200,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-wrap every data key not under the active master key. Returns what was done."""
    ring = keyring or crypto.get_keyring()
    await check_keyring(ring)
    active = ring.active.kid
    report = RotationReport()
    last_id = None
    while True:
        query = (
            StateVersion.select(
                StateVersion.id,
                StateVersion.organization,
                StateVersion.state,
                StateVersion.enc_format,
                StateVersion.key_id,
                StateVersion.wrapped_key,
            )
            .where(StateVersion.key_id != active)
            .order_by(StateVersion.id)
            .limit(batch_size)
        )
        if last_id is not None:
            query = query.where(StateVersion.id > last_id)
        rows = await query
        if not rows:
            break
        for row in rows:
            ctx = context(row["organization"], row["state"], row["id"])
            old = bytes(row["wrapped_key"])
            env = crypto.Envelope(row["enc_format"], row["key_id"], old, b"")
            new = ring.rewrap(env, ctx)
            updated = (
                await StateVersion.update(
                    {StateVersion.key_id: new.key_id, StateVersion.wrapped_key: new.wrapped_key}
                )
                .where(
                    (StateVersion.id == row["id"])
                    & (StateVersion.key_id == row["key_id"])
                    & (StateVersion.wrapped_key == old)
                )
                .returning(StateVersion.id)
            )
            if updated:
                report.rewrapped += 1
            else:
                report.skipped += 1
        last_id = rows[-1]["id"]
        if progress is not None:
            progress(report)
    report.remaining = await StateVersion.count().where(StateVersion.key_id != active)
    log.info(
        "key rotation finished",
        extra={"active_key": active, "rewrapped": report.rewrapped, "remaining": report.remaining},
    )
    return report


async def usage() -> dict[str, int]:
    """How many state versions each key id wraps."""
    rows = await StateVersion.select(StateVersion.key_id, Count(StateVersion.id, alias="n")).group_by(
        StateVersion.key_id
    )
    return {r["key_id"]: int(r["n"]) for r in rows}


__all__ = ["KeyCheckFailed", "RotationReport", "check_keyring", "rotate", "usage"]
