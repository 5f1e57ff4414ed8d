"""One nesting limit for writing and reading states: what a write accepts, outputs, resources and
restore can read; deeper writes are refused with a message about the state, and a stored version
deeper than the readers go (written before the limit) is a 422 about that version, never a
complaint about a request body that does not exist."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.states import header
from app.states.header import MAX_STATE_DEPTH, nesting_depth
from tests.states.support import LINEAGE, md5_header, unique
from tests.support.api import assert_problem, bearer


def nested_state(depth: int, serial: int = 1) -> bytes:
    """A valid state whose output value nests arrays so that the document is ``depth`` deep."""
    value = "[" * (depth - 3) + '"bottom"' + "]" * (depth - 3)  # doc > outputs > out > value
    head = f'{{"version": 4, "terraform_version": "1.11.4", "serial": {serial}, "lineage": "{LINEAGE}", '
    return (
        head + f'"resources": [], "outputs": {{"deep": {{"type": "string", "value": {value}}}}}}}'
    ).encode()


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [{"b": []}]}', 4),
        (b'["]]]]", [[[1]]], "[[["]', 4),  # brackets inside strings do not count
        (b'{"x": "[[\\"]]", "y": "\\\\", "z": [["a\\\\\\"[b"]]}', 3),  # nor do escaped quotes
    ],
)
def test_nesting_depth_counts_arrays_and_objects_outside_strings(text, depth):
    assert nesting_depth(text) == depth
    assert nesting_depth(nested_state(40)) == 40


# Strings made of what the depth count must see through: brackets, quotes, backslashes and the
# letters escapes are made of.
TRICKY = st.text(alphabet='[]{}"\\/bfnrtu\n\x00é', max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=30,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@given(JSON_VALUES, st.sampled_from([None, 1]), st.booleans(), st.integers(0, 2))
def test_nesting_depth_is_the_depth_json_decodes(value, indent, ascii_only, form):
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    data = (text, bytearray(text), memoryview(text))[form]
    assert nesting_depth(data) == depth_of(value)


def test_nesting_depth_reads_bodies_larger_than_one_slice():
    inner = json.dumps({"k": "\\" * 1_100_000 + '"]', "v": [[["x"]]]})  # escapes across slices
    text = ("[" * 30 + inner + "]" * 30).encode()
    assert len(text) > 2 * header._SLICE
    assert nesting_depth(text) == 30 + 4


async def test_the_limit_is_the_same_for_writing_and_reading(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    deepest = nested_state(MAX_STATE_DEPTH)
    r = await client.post(url, content=deepest, headers=keys.headers() | md5_header(deepest))
    assert r.status_code == 200, r.text
    rest = f"/api/v1/orgs/{keys.org}/states/{name}"
    r = await client.get(f"{rest}/outputs", headers=bearer(keys.read))
    assert r.status_code == 200, r.text
    assert json.dumps(r.json()["outputs"][0]["value"]).count("[") == MAX_STATE_DEPTH - 3
    assert (await client.get(f"{rest}/resources", headers=bearer(keys.read))).status_code == 200
    r = await client.post(f"{rest}/versions/1/restore", headers=bearer(keys.admin))
    assert r.status_code == 201, r.text

    too_deep = nested_state(MAX_STATE_DEPTH + 1, serial=3)
    r = await client.post(url, content=too_deep, headers=keys.headers())
    problem = assert_problem(r, 400)
    assert f"nested {MAX_STATE_DEPTH + 1} levels deep" in problem["detail"]
    assert "request body" not in problem["detail"]


async def test_a_stored_version_deeper_than_readers_go_is_a_422_about_the_state(client, keys, monkeypatch):
    name = unique()
    monkeypatch.setattr(header, "MAX_STATE_DEPTH", 5000)  # as before the limit existed
    legacy = nested_state(700)
    r = await client.post(f"/tf/{keys.org}/{name}", content=legacy, headers=keys.headers())
    assert r.status_code == 200, r.text
    monkeypatch.undo()
    rest = f"/api/v1/orgs/{keys.org}/states/{name}"
    # Readers decode with Python's json, bounded by the recursion limit; lowered here below this
    # version's depth (at the default limit, versions 964 levels deep met it).
    default = sys.getrecursionlimit()
    sys.setrecursionlimit(600)
    try:
        answers = [
            await client.request(method, rest + path, headers=bearer(who))
            for method, path, who in (
                ("GET", "/outputs", keys.read),
                ("GET", "/resources", keys.read),
                ("POST", "/versions/1/restore", keys.admin),
            )
        ]
    finally:
        sys.setrecursionlimit(default)
    for r in answers:
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/state-too-deep") and "request body" not in problem["detail"]
    # The state itself still reads back exactly as written.
    assert (await client.get(f"/tf/{keys.org}/{name}", headers=keys.headers("read"))).content == legacy
