"""Large bodies against a real `board3 serve`: callers are authorized before their body is read,
and the body bytes a process holds at once are bounded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.states.support import basic, register_with_key, state_doc, unique
from tests.support.api import Api

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


class Memory:
    """Resident memory of a process: now, and the peak since the last reset."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.clear_refs = Path(f"/proc/{pid}/clear_refs")

    def _kib(self, field: str) -> int:
        for line in self.status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"{field} not in {self.status}")

    def reset_peak(self) -> int:
        self.clear_refs.write_text("5")
        return self._kib("VmRSS")

    def peak(self) -> int:
        return self._kib("VmHWM")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readuntil(b"\r\n")).split()[1])
    length = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def upload(
    port: int, method: str, path: str, headers: dict[str, str], total: int, chunk: int = 256 * 1024
) -> tuple[int, bytes, int]:
    """Send a chunked body of ``total`` bytes, stopping as soon as the response arrives: the status,
    the response body, and how many body bytes had been sent by then."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    response = asyncio.create_task(_read_response(reader))
    piece = b"%x\r\n" % chunk + b" " * chunk + b"\r\n"
    sent = 0
    try:
        while sent < total and not response.done():
            writer.write(piece)
            drained = asyncio.ensure_future(writer.drain())
            await asyncio.wait({drained, response}, return_when=asyncio.FIRST_COMPLETED)
            if not drained.done():
                drained.cancel()
            sent += chunk
        if not response.done():
            writer.write(b"0\r\n\r\n")
        status, body = await asyncio.wait_for(response, 120)
        return status, body, sent
    finally:
        writer.close()


async def test_foreign_and_unauthorized_uploads_are_refused_before_their_body_is_read(live_server):
    server = live_server()
    assert server.process is not None
    port = int(server.url.rsplit(":", 1)[1])
    victim_org, _ = register_with_key(server.url, "victim")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        api = Api(http)
        owner = await api.register("uploader")
        full_key = await api.api_key(owner)
        read_only = await api.api_key(owner, scopes=["state:read"])
    own_org = owner.org_slug
    attempts = [
        ("POST", f"/tf/{victim_org}/{unique()}", full_key, 404),  # another tenant's organization
        ("LOCK", f"/tf/{victim_org}/{unique()}", full_key, 404),
        ("POST", f"/tf/{own_org}/{unique()}", read_only, 403),  # no state:write
        ("LOCK", f"/tf/{own_org}/{unique()}", read_only, 403),
    ] * 2
    memory = Memory(server.process.pid)
    await asyncio.sleep(0.5)
    baseline = memory.reset_peak()
    results = await asyncio.gather(
        *(
            upload(port, method, path, {**basic(key), "Content-Type": "application/json"}, 60 * MiB)
            for method, path, key, _ in attempts
        )
    )
    growth = memory.peak() - baseline
    for (method, path, _, expected), (status, body, sent) in zip(attempts, results, strict=True):
        assert status == expected, (method, path, status, body)
        assert json.loads(body)["status"] == expected
        assert sent < 20 * MiB, f"{method} {path}: {sent / MiB:.0f} MiB sent before the answer"
    assert growth < 8 * MiB, f"the server grew by {growth / MiB:.1f} MiB"


async def test_body_bytes_in_flight_are_bounded(live_server):
    limits = {"BOARD3_MAX_STATE_BYTES": str(MiB), "BOARD3_MAX_BODY_BYTES": str(MiB)}
    server = live_server(**limits, BOARD3_MAX_INFLIGHT_BODY_BYTES=str(3 * MiB // 2))
    port = int(server.url.rsplit(":", 1)[1])
    org, key = register_with_key(server.url, "budget")
    body = state_doc(1, resources=1400)
    assert MiB // 2 < len(body) < MiB
    headers = {**basic(key), "Content-Type": "application/json", "Content-Length": str(len(body))}

    async def send_head(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        return reader, writer

    # The first upload is being received (half its body sent): its whole length is charged.
    first_reader, first = await send_head(f"/tf/{org}/{unique()}")
    first.write(body[: len(body) // 2])
    await first.drain()
    await asyncio.sleep(0.5)
    second_reader, second = await send_head(f"/tf/{org}/{unique()}")
    status, answer = await asyncio.wait_for(_read_response(second_reader), 30)
    second.close()
    assert status == 503, answer
    problem = json.loads(answer)
    assert problem["type"].endswith("/server-busy") and problem["retry_after"] >= 1
    first.write(body[len(body) // 2 :])
    assert (await asyncio.wait_for(_read_response(first_reader), 30))[0] == 200
    first.close()
    # Its bytes were released with its response.
    third_reader, third = await send_head(f"/tf/{org}/{unique()}")
    third.write(body)
    assert (await asyncio.wait_for(_read_response(third_reader), 30))[0] == 200
    third.close()
