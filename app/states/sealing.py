"""State blobs at rest: the associated data that binds a version's ciphertext to its row, and
decryption with an error that says what an operator must check."""

from __future__ import annotations

import uuid
from typing import Any

from app.lib import crypto
from app.lib.errors import AppError


def context(organization_id: uuid.UUID, state_id: uuid.UUID, version_id: uuid.UUID) -> dict[str, str]:
    """Associated data of a version's blob: it decrypts only in this org, state and version."""
    return {"org": str(organization_id), "state": str(state_id), "version": str(version_id)}


def envelope(row: dict[str, Any]) -> crypto.Envelope:
    return crypto.Envelope(
        format=row["enc_format"],
        key_id=row["key_id"],
        wrapped_key=bytes(row["wrapped_key"]),
        ciphertext=bytes(row["ciphertext"]),
    )


class StateUnreadable(AppError):
    """A stored version does not decrypt: tampered or moved data, or a missing master key."""

    status = 500
    code = "state-unreadable"
    title = "State cannot be decrypted"


async def decrypt_version(row: dict[str, Any]) -> bytes:
    """The state bytes of a version row (which must include the blob columns)."""
    ctx = context(row["organization"], row["state"], row["id"])
    try:
        return await crypto.decrypt(envelope(row), context=ctx, size=row["size"])
    except crypto.DecryptionError as exc:
        raise StateUnreadable(
            f"state version serial {row['serial']} cannot be decrypted ({exc}); an operator must check "
            "the encryption keys and the stored data"
        ) from None
