"""The console in a real browser against a real server and worker (PostgreSQL and Redis, or the
embedded server), the real terraform and the sandbox provider: sign in, open a design and its
diagram, comment on a node, run a plan, approve an apply and watch its log reach "applied"; then
change the cloud out of band, check for drift, see the drifted node marked and accept the drift."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.console.browser import chromium, screenshot_on_failure, snap
from tests.drift.support import cloud_id, sandbox
from tests.pipelines.support import Stack, register, sandbox_canvas, stack
from tests.support.api import PASSWORD
from tests.support.server import session_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running() -> Iterator[Stack]:
    env = session_env() | {"BOARD3_SANDBOX": "true"}
    with stack(env, workers=1) as s:
        yield s
        for worker in s.workers:  # nothing runs any more: spare the graceful stop's wait
            worker.kill()


def test_sign_in_diagram_plan_approve_apply_and_accept_drift(running: Stack) -> None:
    user = register(running.url, "browser")
    tag = uuid.uuid4().hex[:8]  # finds this test's network in the sandbox cloud
    design = user.design(sandbox_canvas(tag=tag))
    pipeline = user.pipeline(design, "dev", require_approval=True)
    email = user.ok("GET", "/api/v1/auth/me")["user"]["email"]
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        with screenshot_on_failure(page, "sign-in-plan-approve-apply-drift"):
            page.goto(f"{running.url}/console/orgs/{user.org}/designs/{design}")
            assert "/console/sign-in" in page.url  # and back here after signing in
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"**/designs/{design}")

            cookie = next(c for c in context.cookies() if c["name"] == "b3_console")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
            assert "b3_console=" not in page.evaluate("document.cookie")

            # The diagram; a click on a node opens its comments (htmx), where one can comment.
            page.locator("#diagram svg g[data-node-id=net] > text").click()
            page.wait_for_selector("#comments-panel h2:has-text('sandbox_network.main')")
            page.fill("#comments-panel textarea[name=body]", "Plan this before Friday")
            page.click("#comments-panel .comment-form button[type=submit]")
            page.wait_for_selector(".thread:has-text('Plan this before Friday')")
            snap(page, "design")

            # A plan from the pipeline page: its log follows live until the plan is done.
            page.click(f"a[href$='/pipelines/{pipeline['id']}']")
            page.select_option("select[name=operation]", "plan")
            page.click("form.row-form button[type=submit]")
            page.wait_for_url("**/executions/*")
            page.wait_for_selector("#execution-summary[data-status=planned_and_finished]", timeout=90_000)
            expect(page.locator("#log")).to_contain_text("Plan: 2 to add")
            snap(page, "plan")

            # An apply waits for approval; the button appears when the plan is ready.
            page.goto(f"{running.url}/console/orgs/{user.org}/pipelines/{pipeline['id']}")
            page.select_option("select[name=operation]", "apply")
            page.click("form.row-form button[type=submit]")
            page.wait_for_url("**/executions/*")
            page.wait_for_selector("button[data-action=approve]", timeout=90_000)
            assert page.locator("table.plan").inner_text().count("create") == 2
            snap(page, "planned")
            page.click("button[data-action=approve]")
            page.wait_for_selector(".flash:has-text('Approved')")
            expect(page.locator("#log")).to_contain_text("Applied design version 1.", timeout=90_000)
            page.wait_for_selector("#execution-summary[data-status=applied]", timeout=30_000)
            assert page.locator("#log-state").inner_text().startswith("finished")
            snap(page, "applied")
            log = page.locator("#log").inner_text()
            assert re.search(r"Apply complete! Resources: 2 added", log), log[-2000:]

            page.goto(f"{running.url}/console/orgs/{user.org}/states/{pipeline['state']['name']}")
            assert "sandbox_network.main" in page.locator("body").inner_text()
            snap(page, "state")

            # Someone retags the network at the cloud's console; "Check now" finds it, the diagram
            # marks the node, and accepting the drift saves a design version with the real tags.
            network = cloud_id(running, "sandbox_network", tags={"v": tag})
            sandbox(running, "set", network, "tags=" + json.dumps({"v": tag, "team": "by-hand"}))
            page.goto(f"{running.url}/console/orgs/{user.org}/pipelines/{pipeline['id']}")
            page.click(f"a[href$='/pipelines/{pipeline['id']}/drift']")
            page.click("button[data-action=check-now]")
            page.wait_for_url("**/drift-checks/*")
            page.wait_for_selector("#drift-check[data-status=drifted]", timeout=120_000)
            expect(page.locator("tr[data-attribute=tags]")).to_contain_text("by-hand")
            node = page.locator("#drift-diagram svg g[data-node-id=net]")
            assert "drift-changed" in (node.get_attribute("class") or "")
            snap(page, "drift-check")
            page.click("button[data-action=accept]")
            page.wait_for_url(re.compile(rf"/designs/{design}\?version=2$"))
            expect(page.locator(".flash")).to_contain_text("into design version 2")
            assert "version 2" in page.locator(".page-head").inner_text()
            canvas = user.ok("GET", f"/api/v1/designs/{design}")["canvas"]
            net = next(n for n in canvas["nodes"] if n["id"] == "net")
            assert net["properties"]["tags"] == {"v": tag, "team": "by-hand"}
            snap(page, "accepted")
            for name in ("pipelines", "drift", "analytics", "audit", "api-keys"):
                page.goto(f"{running.url}/console/orgs/{user.org}/{name}")
                snap(page, name)
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
        context.close()
