"""The per-process bound on request body bytes in flight (``app.lib.bodies.BodyBudget``)."""

from __future__ import annotations

import asyncio

import pytest

from app.lib.bodies import BodyBudget
from app.lib.errors import ServiceUnavailable


def _scope(length: int | None = None) -> dict:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "method": "POST", "path": "/", "headers": headers}


def _receive(chunks: list[bytes]):
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]

    async def receive():
        await asyncio.sleep(0)
        return messages.pop(0)

    return receive


async def _send(message) -> None:
    return None


async def test_declared_bodies_are_charged_whole_and_released_with_the_response():
    seen: list[int] = []
    gate = asyncio.Event()

    async def app(scope, receive, send):
        await receive()  # the first read charges the declared length
        seen.append(budget.in_flight)
        await gate.wait()

    budget = BodyBudget(app, limit=100)
    first = asyncio.create_task(budget(_scope(60), _receive([b"x" * 30, b"x" * 30]), _send))
    await asyncio.sleep(0.01)
    assert budget.in_flight == 60 and seen == [60]

    async def reader(scope, receive, send):
        await receive()

    budget.app = reader
    with pytest.raises(ServiceUnavailable) as info:  # the second body does not fit beside the first
        await budget(_scope(50), _receive([b"y" * 50]), _send)
    assert info.value.status == 503 and info.value.headers["Retry-After"] == "1"
    assert budget.in_flight == 60
    await budget(_scope(40), _receive([b"z" * 40]), _send)  # this one fits, and is released
    assert budget.in_flight == 60
    gate.set()
    await first
    assert budget.in_flight == 0


async def test_chunked_bodies_are_charged_as_they_arrive_and_unread_bodies_cost_nothing():
    async def reads_all(scope, receive, send):
        while (await receive()).get("more_body"):
            pass

    async def refuses_first(scope, receive, send):
        return None  # e.g. the caller was not authorized: the body is never read

    budget = BodyBudget(reads_all, limit=100)
    with pytest.raises(ServiceUnavailable):
        await budget(_scope(), _receive([b"a" * 60, b"a" * 60]), _send)
    assert budget.in_flight == 0
    await budget(_scope(), _receive([b"a" * 50, b"a" * 50]), _send)
    budget.app = refuses_first
    await budget(_scope(10**9), _receive([b"b" * 10]), _send)
    assert budget.in_flight == 0
