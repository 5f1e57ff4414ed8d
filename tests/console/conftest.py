from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.console.support import ConsoleClient


@pytest.fixture
async def browser(client) -> AsyncIterator[Callable[[], ConsoleClient]]:
    """Console clients with cookie jars of their own, sharing the session's in-process app."""
    made: list[ConsoleClient] = []

    def make() -> ConsoleClient:
        c = ConsoleClient(client._transport)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()
