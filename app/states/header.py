"""Pure decoding of what Terraform sends: the state header and the lock-info JSON.

The write path never builds the whole state in memory as Python objects: msgspec decodes only the
header fields into a Struct and skips everything else (it still checks the JSON is well formed).
Resources are counted through a one-field Struct, so instance attributes are never materialized.
"""

from __future__ import annotations

import itertools
import re

import msgspec

SUPPORTED_STATE_FORMATS = frozenset({4})  # Terraform >= 0.12 and OpenTofu write format 4
MAX_LOCK_BODY = 64 * 1024
# Levels of JSON nesting a state may have. Writes above it are refused, so every reader (outputs,
# resources, restore) can decode whatever was accepted; real states stay within a few dozen.
MAX_STATE_DEPTH = 256
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_LOCK_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


class HeaderError(ValueError):
    """The body is not an acceptable state or lock info; the message is safe to show."""


class _Resource(msgspec.Struct):
    mode: str = "managed"


class StateHeader(msgspec.Struct):
    """The fields of a state file the backend needs; everything else is skipped unread."""

    version: int
    serial: int
    lineage: str
    terraform_version: str
    resources: list[_Resource] = msgspec.field(default_factory=list)

    @property
    def managed_resources(self) -> int:
        return sum(1 for r in self.resources if r.mode == "managed")


class LockInfo(msgspec.Struct, omit_defaults=False):
    """Terraform's lock info (``statemgr.LockInfo``) as it travels on LOCK and UNLOCK."""

    id: str = msgspec.field(name="ID")
    operation: str = msgspec.field(name="Operation", default="")
    info: str = msgspec.field(name="Info", default="")
    who: str = msgspec.field(name="Who", default="")
    version: str = msgspec.field(name="Version", default="")
    created: str = msgspec.field(name="Created", default="")
    path: str = msgspec.field(name="Path", default="")


_header_decoder = msgspec.json.Decoder(StateHeader)
_lock_decoder = msgspec.json.Decoder(LockInfo)
_lock_encoder = msgspec.json.Encoder()


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def decode_header(body: bytes | bytearray | memoryview) -> StateHeader:
    """Decode and check the state header; HeaderError says what is wrong (never echoes the body)."""
    if len(body) == 0:
        raise HeaderError("the request body is empty; expected a Terraform state (JSON)")
    try:
        header = _header_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise HeaderError(f"not a Terraform state: {_first_line(exc)}") from None
    except msgspec.DecodeError as exc:
        raise HeaderError(f"the body is not valid JSON: {_first_line(exc)}") from None
    if header.version not in SUPPORTED_STATE_FORMATS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_STATE_FORMATS))
        raise HeaderError(f"state format version {header.version} is not supported (supported: {supported})")
    if header.serial < 0 or header.serial > 2**62:
        raise HeaderError("serial must be a non-negative integer")
    if not header.lineage or len(header.lineage) > 128:
        raise HeaderError("lineage must be a non-empty string of at most 128 characters")
    if len(header.terraform_version) > 64:
        raise HeaderError("terraform_version is too long")
    check_depth(body)
    return header


# What can follow a backslash in a JSON string: kept through the first pass, so that each escape
# stays one backslash and the character it escapes.
_ESCAPABLE = b'"\\/bfnrtu'
_NOT_KEPT = bytes(b for b in range(256) if b not in b"[]{}" + _ESCAPABLE)
_ONE_KIND = bytes.maketrans(b"[{]}", b"(())")
_STEP = {40: 1, 41: -1}.__getitem__
_SHRINKING_PASSES = 8
_SLICE = 1 << 20  # the first pass goes a slice at a time: translate allocates the input's size


def nesting_depth(data: bytes | bytearray | memoryview) -> int:
    """Levels of ``[]``/``{}`` nesting outside strings of a well-formed JSON document, with
    C-speed passes only. The first, a slice at a time, keeps brackets, quotes, backslashes and the
    letters an escape can hold (about a quarter of a real state); then escaped backslashes and
    quotes go, then those letters, then strings: what is left is the bracket skeleton, whose
    innermost pairs are peeled off a few times (each pass removes one level everywhere) before the
    rest is counted. About 0.18 s and 30 MB for 60 MB of state (bench/state_backend.py's
    states), far less for the usual few hundred KB."""
    view = memoryview(data)
    kept = b"".join(
        view[at : at + _SLICE].tobytes().translate(None, _NOT_KEPT) for at in range(0, len(view), _SLICE)
    )
    if b"\\" in kept:
        kept = kept.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Adjacent quotes are an empty string's, or the end of one and the start of the next with no
    # bracket between: dropping them leaves only the strings that hold brackets.
    skeleton = kept.translate(None, b"\\/bfnrtu").replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    skeleton = skeleton.translate(_ONE_KIND)
    peeled = 0
    while skeleton and peeled < _SHRINKING_PASSES:
        skeleton, peeled = skeleton.replace(b"()", b""), peeled + 1
    return peeled + max(itertools.accumulate(map(_STEP, skeleton)), default=0)


def check_depth(data: bytes | bytearray | memoryview) -> None:
    depth = nesting_depth(data)
    if depth > MAX_STATE_DEPTH:
        raise HeaderError(
            f"the state is nested {depth} levels deep; the limit is {MAX_STATE_DEPTH} levels of arrays "
            "and objects"
        )


def decode_lock_info(body: bytes | bytearray) -> LockInfo:
    """Decode a LOCK/UNLOCK body. The ID is what identifies the holder."""
    if len(body) > MAX_LOCK_BODY:
        raise HeaderError(f"lock info is larger than {MAX_LOCK_BODY} bytes")
    try:
        info = _lock_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise HeaderError(f"not Terraform lock info: {_first_line(exc)}") from None
    except msgspec.DecodeError as exc:
        raise HeaderError(f"lock info is not valid JSON: {_first_line(exc)}") from None
    if not _LOCK_ID.match(info.id):
        raise HeaderError("lock info needs an ID of 1-128 printable characters")
    return info


def encode_lock_info(info: LockInfo) -> bytes:
    return _lock_encoder.encode(info)


def valid_state_name(name: str) -> bool:
    """Letters, digits, '-', '_' and '.', at most 128, and not only dots."""
    return bool(_NAME.match(name)) and name.strip(".") != ""
