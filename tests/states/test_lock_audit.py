"""LOCK and UNLOCK change the state and write their audit row in one statement (PostgreSQL) or
one transaction (SQLite): refused attempts change nothing and record nothing."""

from __future__ import annotations

from tests.states.support import lock_info, unique
from tests.support.api import bearer


async def test_only_what_took_effect_is_audited(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}/lock"
    holder, other = lock_info(), lock_info()
    assert (await client.request("LOCK", url, json=holder, headers=keys.headers())).status_code == 200
    assert (await client.request("LOCK", url, json=other, headers=keys.headers())).status_code == 423
    assert (await client.request("UNLOCK", url, json=other, headers=keys.headers())).status_code == 423
    assert (await client.request("UNLOCK", url, json=holder, headers=keys.headers())).status_code == 200
    assert (await client.request("UNLOCK", url, json=holder, headers=keys.headers())).status_code == 200
    r = await client.get(
        f"/api/v1/orgs/{keys.org}/audit-logs", params={"action": "state.*"}, headers=bearer(keys.admin)
    )
    actions = sorted(e["action"] for e in r.json()["items"] if e["details"].get("name") == name)
    assert actions == ["state.create", "state.lock", "state.unlock"]
    locked = next(
        e for e in r.json()["items"] if e["action"] == "state.lock" and e["details"]["name"] == name
    )
    assert locked["details"]["lock_id"] == holder["ID"] and locked["actor_type"] == "api_key"
