"""Master keys in operation: the start-up canary check and ``board3 keys rotate``.

Canary: one known plaintext per key id, encrypted when that key is first active. At start-up the
active key must decrypt its canary (same id with other key material is refused), every configured
key that has a canary must decrypt it, and every key id that stored versions depend on must be
configured. Otherwise the process refuses to start and says which key is wrong.

Rotation re-wraps data keys, never the ciphertext, of every sealed table (``app.lib.sealed``: state
versions, sensitive pipeline variables, saved plans): each row is updated only if it still holds
the wrapped key that was read (a conditional UPDATE), in small committed batches, so it is
idempotent, resumable after an interruption and safe next to a running server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from piccolo.query.functions.aggregate import Count

from app.lib import crypto
from app.lib.clock import utcnow
from app.lib.sealed import SealedRows, all_sealed
from app.states.sealing import envelope
from app.states.tables import EncryptionCanary

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
    used = set(await usage())
    missing = sorted(used - set(ring.key_ids))
    if missing:
        raise KeyCheckFailed(
            f"stored data is encrypted under key id(s) {', '.join(missing)}, which "
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
    report = RotationReport()
    for sealed in all_sealed():
        await _rotate_rows(ring, sealed, batch_size, report, progress)
    counts = await usage()
    report.remaining = sum(n for kid, n in counts.items() if kid != ring.active.kid)
    log.info(
        "key rotation finished",
        extra={"active_key": ring.active.kid, "rewrapped": report.rewrapped, "remaining": report.remaining},
    )
    return report


async def _rotate_rows(
    ring: crypto.Keyring,
    sealed: SealedRows,
    batch_size: int,
    report: RotationReport,
    progress: Callable[[RotationReport], None] | None,
) -> None:
    table = sealed.table
    id_col, key_id, wrapped, fmt = table._meta.primary_key, table.key_id, table.wrapped_key, table.enc_format  # type: ignore[attr-defined]
    active = ring.active.kid
    last_id = None
    while True:
        query = (
            table.select(id_col, *sealed.context_columns, fmt, key_id, wrapped)
            .where((key_id != active) & key_id.is_not_null())
            .order_by(id_col)
            .limit(batch_size)
        )
        if last_id is not None:
            query = query.where(id_col > last_id)
        rows = await query
        if not rows:
            return
        for row in rows:
            old = bytes(row["wrapped_key"])
            env = crypto.Envelope(row["enc_format"], row["key_id"], old, b"")
            new = ring.rewrap(env, sealed.context(row))
            updated = (
                await table.update({key_id: new.key_id, wrapped: new.wrapped_key})
                .where((id_col == row["id"]) & (key_id == row["key_id"]) & (wrapped == old))
                .returning(id_col)
            )
            if updated:
                report.rewrapped += 1
            else:
                report.skipped += 1
        last_id = rows[-1]["id"]
        if progress is not None:
            progress(report)


async def usage() -> dict[str, int]:
    """How many sealed rows (state versions, sensitive variables, saved plans) each key id wraps."""
    counts: dict[str, int] = {}
    for sealed in all_sealed():
        table = sealed.table
        key_id = table.key_id  # type: ignore[attr-defined]
        rows = (
            await table.select(key_id, Count(table._meta.primary_key, alias="n"))
            .where(key_id.is_not_null())
            .group_by(key_id)
        )
        for r in rows:
            counts[r["key_id"]] = counts.get(r["key_id"], 0) + int(r["n"])
    return counts


__all__ = ["KeyCheckFailed", "RotationReport", "check_keyring", "rotate", "usage"]
