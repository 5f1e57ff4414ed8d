"""Envelope encryption: round trips, tamper rejection, context binding, key parsing, rewrapping."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import ConfigError
from app.lib import crypto
from app.lib.crypto import NONCE_BYTES, TAG_BYTES, DecryptionError, Envelope, Keyring, MasterKey, parse_keys

RING = Keyring([MasterKey("k1", os.urandom(32)), MasterKey("k0", os.urandom(32))])
CTX = {"org": str(uuid.uuid4()), "state": str(uuid.uuid4()), "version": str(uuid.uuid4())}
ids = st.uuids().map(str)
contexts = st.fixed_dictionaries({"org": ids, "state": ids, "version": ids})


@given(data=st.binary(max_size=20_000), context=contexts)
@settings(max_examples=150, deadline=None)
def test_round_trip(data, context):
    env = RING.encrypt(data, context)
    assert env.key_id == "k1" and env.format == crypto.FORMAT_V1
    assert RING.decrypt(env, context) == data


@given(
    data=st.binary(min_size=1, max_size=2_000),
    where=st.sampled_from(["ciphertext", "wrapped_key"]),
    pos=st.data(),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_flipping_any_byte_is_rejected(data, where, pos):
    env = RING.encrypt(data, CTX)
    blob = bytearray(getattr(env, where))
    index = pos.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    bit = pos.draw(st.integers(min_value=0, max_value=7))
    blob[index] ^= 1 << bit
    tampered = (
        Envelope(env.format, env.key_id, bytes(blob), env.ciphertext)
        if where == "wrapped_key"
        else Envelope(env.format, env.key_id, env.wrapped_key, bytes(blob))
    )
    with pytest.raises(DecryptionError):
        RING.decrypt(tampered, CTX)


def test_every_region_of_the_envelope_is_covered():
    """Nonce, ciphertext body and tag of the data, and every byte of the wrapped key."""
    env = RING.encrypt(b"x" * 1000, CTX)
    regions = {
        "nonce": range(0, NONCE_BYTES),
        "body": range(NONCE_BYTES, len(env.ciphertext) - TAG_BYTES),
        "tag": range(len(env.ciphertext) - TAG_BYTES, len(env.ciphertext)),
    }
    for positions in regions.values():
        for i in positions:
            blob = bytearray(env.ciphertext)
            blob[i] ^= 0x01
            with pytest.raises(DecryptionError):
                RING.decrypt(Envelope(env.format, env.key_id, env.wrapped_key, bytes(blob)), CTX)
    for i in range(len(env.wrapped_key)):
        wrapped = bytearray(env.wrapped_key)
        wrapped[i] ^= 0x80
        with pytest.raises(DecryptionError):
            RING.decrypt(Envelope(env.format, env.key_id, bytes(wrapped), env.ciphertext), CTX)


@given(a=contexts, b=contexts)
@settings(max_examples=50, deadline=None)
def test_another_context_does_not_decrypt(a, b):
    if a == b:
        return
    env = RING.encrypt(b"state", a)
    with pytest.raises(DecryptionError):
        RING.decrypt(env, b)


def test_swapping_ciphertexts_between_records_is_rejected():
    other = dict(CTX, state=str(uuid.uuid4()))
    one, two = RING.encrypt(b"one", CTX), RING.encrypt(b"two", other)
    for env, ctx in ((one, other), (two, CTX)):
        with pytest.raises(DecryptionError):
            RING.decrypt(env, ctx)
    # the ciphertext of one under the wrapped key of the other
    with pytest.raises(DecryptionError):
        RING.decrypt(Envelope(1, two.key_id, two.wrapped_key, one.ciphertext), other)


def test_truncation_unknown_key_and_format_are_rejected():
    env = RING.encrypt(b"hello", CTX)
    cases = [
        Envelope(env.format, env.key_id, env.wrapped_key, env.ciphertext[:-1]),
        Envelope(env.format, env.key_id, env.wrapped_key, env.ciphertext[:10]),
        Envelope(env.format, env.key_id, env.wrapped_key[:-1], env.ciphertext),
        Envelope(env.format, "nope", env.wrapped_key, env.ciphertext),
        Envelope(env.format, "k0", env.wrapped_key, env.ciphertext),  # other key, same id slot
        Envelope(99, env.key_id, env.wrapped_key, env.ciphertext),
    ]
    for case in cases:
        with pytest.raises(DecryptionError):
            RING.decrypt(case, CTX)


def test_data_is_compressed_and_keys_are_fresh():
    data = b'{"resources": []}' * 10_000
    a, b = RING.encrypt(data, CTX), RING.encrypt(data, CTX)
    assert len(a.ciphertext) < len(data) // 10
    assert a.ciphertext != b.ciphertext and a.wrapped_key != b.wrapped_key


def test_rewrap_keeps_ciphertext_and_moves_to_active_key():
    old = Keyring([MasterKey("old", os.urandom(32))])
    new_key = MasterKey("new", os.urandom(32))
    env = old.encrypt(b"payload", CTX)
    both = Keyring([new_key, old.keys["old"]])
    moved = both.rewrap(env, CTX)
    assert moved.key_id == "new" and moved.ciphertext == env.ciphertext
    only_new = Keyring([new_key])
    assert only_new.decrypt(moved, CTX) == b"payload"
    with pytest.raises(DecryptionError):
        only_new.decrypt(env, CTX)


def _b64(n: int = 32) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def test_parse_keys_first_is_active():
    ring = parse_keys(f"new:{_b64()}, old:{_b64()}")
    assert ring.active.kid == "new" and ring.key_ids == ["new", "old"]


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "nokey",
        f"bad id:{_b64()}",
        "k:not*base64",
        f"k:{_b64(16)}",
        f"k:{_b64()},k:{_b64()}",
        f":{_b64()}",
    ],
    # Stable ids (specs hold random keys): every `pytest -n` process must collect the same tests.
    ids=["empty", "no-key", "bad-id", "not-base64", "short-key", "duplicate-id", "no-id"],
)
def test_parse_keys_refuses_bad_specs_without_echoing_keys(spec):
    with pytest.raises(ConfigError) as exc:
        parse_keys(spec)
    secret = spec.partition(":")[2]
    if len(secret) > 8:
        assert secret not in str(exc.value)


def test_key_material_never_in_repr():
    key = os.urandom(32)
    ring = Keyring([MasterKey("k", key)])
    assert key.hex() not in repr(ring) and base64.b64encode(key).decode() not in repr(ring.active)


def test_generated_key_file_is_private_and_stable(tmp_path, monkeypatch):
    from app.config import load_settings

    monkeypatch.setenv("BOARD3_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BOARD3_ENCRYPTION_KEYS", raising=False)
    settings = load_settings()
    first = crypto.load_keyring(settings)
    second = crypto.load_keyring(settings)
    assert first.active.kid == second.active.kid and first.active.key == second.active.key
    path = crypto.key_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_async_helpers_use_threads_for_large_data_only(monkeypatch):
    hops: list[str] = []
    to_thread = asyncio.to_thread

    async def recording(func, /, *args, **kwargs):
        hops.append(func.__name__)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(crypto.asyncio, "to_thread", recording)
    small = b"x" * 1000
    env = await crypto.encrypt(small, context=CTX, keyring=RING)
    assert await crypto.decrypt(env, context=CTX, keyring=RING) == small
    assert hops == []  # a thread hop would cost more than the work
    large = os.urandom(1 << 20)
    env = await crypto.encrypt(large, context=CTX, keyring=RING)
    assert await crypto.decrypt(env, context=CTX, keyring=RING) == large
    assert hops == ["encrypt", "decrypt"]  # off the event loop
    # a state compresses about tenfold: its small ciphertext still decompresses to megabytes
    hops.clear()
    state = b'{"type": "terraform_data", "attributes": {}}' * 30_000
    env = await crypto.encrypt(state, context=CTX, keyring=RING)
    assert len(env.ciphertext) < crypto.THREAD_THRESHOLD < len(state)
    assert await crypto.decrypt(env, context=CTX, keyring=RING, size=len(state)) == state
    assert hops == ["encrypt", "decrypt"]
