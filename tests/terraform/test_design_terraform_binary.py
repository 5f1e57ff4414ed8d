"""The real terraform binary on what the HTTP export returns, and the zip against a live Board3."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from tests.states.terraform import Workspace
from tests.support.api import bearer
from tests.terraform.design_support import HOSTILE, design_with, offline_canvas

pytestmark = pytest.mark.slow


@pytest.fixture
def workspace():
    """A private working directory (mode 0700) with its own empty CLI config and no checkpoint calls."""
    ws = Workspace()
    yield ws
    ws.cleanup()


@pytest.mark.parametrize("fmt", ["json", "hcl"])
async def test_exported_terraform_inits_and_validates(client, api, terraform_bin, workspace, fmt):
    owner = await api.register("tfbin")
    design_id = await design_with(client, owner, offline_canvas(10, module=False))
    r = await client.get(f"/api/v1/designs/{design_id}/terraform?format={fmt}", headers=owner.headers)
    assert r.status_code == 200, r.text
    files = {"main.tf.json": r.text} if fmt == "json" else r.json()["files"]
    for name, text in files.items():
        (workspace.dir / name).write_text(text)
    workspace.run("init", "-backend=false", "-input=false", "-no-color")
    workspace.run("validate", "-no-color")
    workspace.run(
        "apply", "-auto-approve", "-input=false", "-no-color"
    )  # local state: nothing leaves the box
    assert workspace.outputs()["hostile"]["value"]["text"] == HOSTILE  # user text stayed literal


async def test_zip_bundle_applies_against_the_board3_state_backend(client, api, live_server, workspace):
    owner = await api.register("tfzip")
    design_id = await design_with(client, owner, offline_canvas(8))
    key = await api.api_key(owner, scopes=["design:read", "state:read", "state:write"])
    server = live_server()
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(key), timeout=60) as http:
        r = await http.get(f"/api/v1/designs/{design_id}/terraform", params={"format": "zip"})
        assert r.status_code == 200, r.text
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            zf.extractall(workspace.dir)
        state = f"design-{design_id}"
        address = f"{server.url}/tf/{owner.org_slug}/{state}"
        assert f'"{address}"' in (workspace.dir / "backend.tf").read_text()
        assert (workspace.dir / "modules" / "label").is_dir()

        workspace.init(key)  # -backend-config=password=<API key>
        workspace.apply()
        assert workspace.outputs()["hostile"]["value"]["text"] == HOSTILE

        r = await http.get(f"/api/v1/orgs/{owner.org_slug}/states/{state}")
        assert r.status_code == 200, r.text
        stored = r.json()
        assert stored["serial"] >= 1 and stored["resource_count"] > 0 and stored["lock"] is None
        # A second apply of the same export changes nothing and keeps using the same state.
        again = workspace.run("plan", "-detailed-exitcode", "-input=false", "-no-color", check=False)
        assert again.returncode == 0, again.stdout + again.stderr
