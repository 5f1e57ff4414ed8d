"""Envelope encryption for data at rest: compress, then AES-256-GCM under a fresh data key.

Each blob gets its own random 256-bit data key. The data key is wrapped (AES-256-GCM) by a named
master key; the key id and a format version are stored with the blob. Both layers take the
caller's *context* (for a state version: organization, state and version ids) as associated data,
so a blob or a wrapped key copied to another row does not decrypt. Rotation re-wraps data keys
under the active master key without touching the ciphertext.

Master keys come from ``BOARD3_ENCRYPTION_KEYS`` (``kid:base64key,...``; the first encrypts, all
decrypt) or, when unset, from a key generated once into the data dir (file mode 0600).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.config import ConfigError, Settings, get_settings
from app.lib.secrets import file_secret

FORMAT_V1 = 1  # zlib (level 1) then AES-256-GCM; 12-byte nonce prefix; 16-byte tag suffix
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
COMPRESS_LEVEL = 1  # fast; the state write path is bounded by this step (see bench/state_backend.py)
THREAD_THRESHOLD = 256 * 1024  # below this, work inline: a thread hop costs more than it saves

_KID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_CONTEXT_PART = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ENV_VAR = "BOARD3_ENCRYPTION_KEYS"


class DecryptionError(Exception):
    """A blob or wrapped key did not authenticate (tampered, moved, or wrong/missing master key).

    The message never contains key material or plaintext.
    """


@dataclass(frozen=True, slots=True)
class Envelope:
    """What is stored: format version, master key id, wrapped data key, nonce + ciphertext + tag."""

    format: int
    key_id: str
    wrapped_key: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True, repr=False)
class MasterKey:
    kid: str
    key: bytes

    def __repr__(self) -> str:  # never print key material
        return f"MasterKey(kid={self.kid!r})"


def encode_context(context: Mapping[str, str]) -> bytes:
    """Canonical associated data: sorted ``name=value`` lines (names and values are plain ids)."""
    parts = []
    for name in sorted(context):
        value = str(context[name])
        if not _CONTEXT_PART.match(name) or not _CONTEXT_PART.match(value):
            raise ValueError(f"invalid encryption context entry {name!r}")
        parts.append(f"{name}={value}")
    return "\n".join(parts).encode()


def _wrap_aad(kid: str, context: bytes) -> bytes:
    return b"board3:wrap:v1\n" + kid.encode() + b"\n" + context


def _data_aad(fmt: int, context: bytes) -> bytes:
    return b"board3:data:v%d\n" % fmt + context


class Keyring:
    """The configured master keys: ``active`` encrypts and wraps, every key unwraps."""

    def __init__(self, keys: list[MasterKey]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self.active = keys[0]
        self.keys = {k.kid: k for k in keys}

    @property
    def key_ids(self) -> list[str]:
        return list(self.keys)

    def __repr__(self) -> str:
        return f"Keyring(active={self.active.kid!r}, keys={self.key_ids!r})"

    def _wrap(self, dek: bytes, aad_context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.active.key).encrypt(nonce, dek, _wrap_aad(self.active.kid, aad_context))

    def _unwrap(self, kid: str, wrapped: bytes, aad_context: bytes) -> bytes:
        master = self.keys.get(kid)
        if master is None:
            raise DecryptionError(f"master key {kid!r} is not configured")
        if len(wrapped) != WRAPPED_KEY_BYTES:
            raise DecryptionError("wrapped data key has the wrong length")
        try:
            return AESGCM(master.key).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(kid, aad_context)
            )
        except InvalidTag:
            raise DecryptionError("wrapped data key does not authenticate") from None

    def encrypt(self, data: bytes | bytearray | memoryview, context: Mapping[str, str]) -> Envelope:
        """Compress and encrypt ``data`` under a fresh data key bound to ``context``."""
        ctx = encode_context(context)
        dek = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        compressed = zlib.compress(data, COMPRESS_LEVEL)
        sealed = AESGCM(dek).encrypt(nonce, compressed, _data_aad(FORMAT_V1, ctx))
        del compressed
        return Envelope(FORMAT_V1, self.active.kid, self._wrap(dek, ctx), nonce + sealed)

    def decrypt(self, envelope: Envelope, context: Mapping[str, str]) -> bytes:
        """The plaintext, or DecryptionError if anything does not authenticate."""
        if envelope.format != FORMAT_V1:
            raise DecryptionError(f"unknown envelope format {envelope.format}")
        ctx = encode_context(context)
        dek = self._unwrap(envelope.key_id, envelope.wrapped_key, ctx)
        blob = envelope.ciphertext
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("ciphertext is truncated")
        try:
            compressed = AESGCM(dek).decrypt(
                blob[:NONCE_BYTES], memoryview(blob)[NONCE_BYTES:], _data_aad(envelope.format, ctx)
            )
        except InvalidTag:
            raise DecryptionError("ciphertext does not authenticate") from None
        try:
            return zlib.decompress(compressed)
        except zlib.error:  # authenticated yet undecodable: written by a broken encoder
            raise DecryptionError("decrypted data is not a valid compressed stream") from None

    def rewrap(self, envelope: Envelope, context: Mapping[str, str]) -> Envelope:
        """The same ciphertext with its data key wrapped by the active master key."""
        ctx = encode_context(context)
        dek = self._unwrap(envelope.key_id, envelope.wrapped_key, ctx)
        return Envelope(envelope.format, self.active.kid, self._wrap(dek, ctx), envelope.ciphertext)


def parse_keys(spec: str, source: str = ENV_VAR) -> Keyring:
    """Parse ``kid:base64key,...``. Errors name the entry, never the key material."""
    keys: list[MasterKey] = []
    for index, entry in enumerate(p.strip() for p in spec.split(",")):
        if not entry:
            continue
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not _KID.match(kid):
            raise ConfigError(
                f"{source}: entry {index + 1} must be 'kid:base64key' with a key id of letters, digits, "
                "'.', '_' or '-' (at most 32)"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{source}: key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(f"{source}: key {kid!r} must decode to {KEY_BYTES} bytes, got {len(key)}")
        if any(k.kid == kid for k in keys):
            raise ConfigError(f"{source}: key id {kid!r} appears twice")
        keys.append(MasterKey(kid, key))
    if not keys:
        raise ConfigError(f"{source}: no keys given")
    return Keyring(keys)


def new_key_spec(kid: str | None = None) -> str:
    """A fresh ``kid:base64key`` entry (used for the data-dir key and by operators)."""
    kid = kid or f"local-{os.urandom(4).hex()}"
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def key_file(data_dir: Path) -> Path:
    return data_dir / "secrets" / "encryption.keys"


def load_keyring(settings: Settings) -> Keyring:
    """From ``BOARD3_ENCRYPTION_KEYS`` or, when unset, the data dir's generated key file."""
    if settings.security.encryption_keys:
        return parse_keys(settings.security.encryption_keys)
    path = key_file(settings.data_dir)
    return parse_keys(file_secret(path, new_key_spec), source=str(path))


@lru_cache(maxsize=1)
def get_keyring() -> Keyring:
    """The process-wide keyring, loaded once from settings."""
    return load_keyring(get_settings())


async def encrypt(
    data: bytes | bytearray | memoryview, *, context: Mapping[str, str], keyring: Keyring | None = None
) -> Envelope:
    """Encrypt off the event loop when the data is large (zlib and AES-GCM release the GIL)."""
    ring = keyring or get_keyring()
    if len(data) < THREAD_THRESHOLD:
        return ring.encrypt(data, context)
    return await asyncio.to_thread(ring.encrypt, data, context)


async def decrypt(
    envelope: Envelope, *, context: Mapping[str, str], keyring: Keyring | None = None, size: int | None = None
) -> bytes:
    """Decrypt off the event loop when the work is large. Most of it is decompression, so
    ``size``, the plaintext's length when the caller knows it, decides (state JSON compresses
    about tenfold); without it, the ciphertext's length does."""
    ring = keyring or get_keyring()
    if (size or len(envelope.ciphertext)) < THREAD_THRESHOLD:
        return ring.decrypt(envelope, context)
    return await asyncio.to_thread(ring.decrypt, envelope, context)


__all__ = [
    "FORMAT_V1",
    "DecryptionError",
    "Envelope",
    "Keyring",
    "MasterKey",
    "decrypt",
    "encrypt",
    "get_keyring",
    "load_keyring",
    "new_key_spec",
    "parse_keys",
]
