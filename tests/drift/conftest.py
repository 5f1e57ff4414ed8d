"""One running Board3 per test module (a server and two workers on PostgreSQL and Redis), as for
the pipeline tests: real terraform runs are the slow part, so modules share their stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipelines.conftest import stack_env
from tests.pipelines.support import Stack, stack


@pytest.fixture(scope="module")
def running() -> Iterator[Stack]:
    with stack(stack_env(), workers=2) as s:
        yield s
