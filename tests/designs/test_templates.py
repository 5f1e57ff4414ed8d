"""Templates: the seeded catalogue, visibility, publishing, instantiation, caching."""

from __future__ import annotations

import glob
import uuid
from pathlib import Path

import msgspec
import pytest

from app.terraform.canvas import Canvas
from tests.designs.helpers import create_design, save, vpc_canvas
from tests.support.api import assert_problem

SEEDED = {
    "aws-three-tier",
    "aws-static-site",
    "aws-serverless-api",
    "aws-eks",
    "gcp-gke",
    "azure-webapp-sql",
    "terraform-data-release",
    "sandbox-three-tier",
    "sandbox-static-site",
}


@pytest.mark.parametrize("path", sorted(glob.glob("seeds/templates/*.json")))
def test_seed_templates_are_valid_designs(path):
    """Every template passes the Terraform validation with no problems at all, and exports."""
    from app.terraform.catalog import get_catalog
    from app.terraform.codegen_hcl import generate_hcl
    from app.terraform.validate import validate

    doc = msgspec.json.decode(Path(path).read_bytes())
    canvas = msgspec.convert(doc["canvas"], Canvas)
    result = validate(canvas, get_catalog())
    assert result.problems == [], result.problems
    assert result.valid
    assert generate_hcl(canvas, get_catalog())["main.tf"]
    assert len(canvas.nodes) >= 5


async def test_seeded_catalogue_is_listed_and_readable(client, api):
    user = await api.register("tlist")
    items = []
    cursor = None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/templates", params=params, headers=user.headers)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    slugs = {t["slug"] for t in items if t["organization"] is None}
    assert slugs >= SEEDED
    assert [t["name"] for t in items] == sorted(t["name"] for t in items)
    gke = next(t for t in items if t["slug"] == "gcp-gke")
    assert gke["cloud_provider"] == "google" and gke["public"] and "canvas" not in gke
    by_slug = await client.get("/api/v1/templates/gcp-gke", headers=user.headers)
    by_id = await client.get(f"/api/v1/templates/{gke['id']}", headers=user.headers)
    assert by_slug.status_code == 200 and by_slug.json() == by_id.json()
    assert by_slug.json()["node_count"] == len(by_slug.json()["canvas"]["nodes"])
    aws = (
        await client.get("/api/v1/templates", params={"provider": "aws", "limit": 50}, headers=user.headers)
    ).json()
    assert {t["slug"] for t in aws["items"]} >= {"aws-three-tier", "aws-eks"}
    assert all(t["cloud_provider"] == "aws" for t in aws["items"])
    k8s = (await client.get("/api/v1/templates", params={"tag": "kubernetes"}, headers=user.headers)).json()
    assert {t["slug"] for t in k8s["items"]} == {"aws-eks", "gcp-gke"}
    assert_problem(await client.get("/api/v1/templates/no-such-template", headers=user.headers), 404)
    assert_problem(await client.get(f"/api/v1/templates/{uuid.uuid4()}", headers=user.headers), 404)


async def test_seeding_is_idempotent_and_repairs_changed_templates(client, api):
    from app.designs.tables import Template
    from app.designs.templates import seed, seed_id

    tid = seed_id("aws-static-site")
    original = await Template.select().where(Template.id == tid).first().output(load_json=True)
    before = await Template.count()
    await seed()
    assert await Template.count() == before
    unchanged = await Template.select().where(Template.id == tid).first().output(load_json=True)
    assert unchanged["revision"] == original["revision"]  # nothing differs: nothing written
    # A seeded row that differs from its file (edited file, or edited row) is brought back.
    await Template.update(
        {Template.name: "tampered", Template.canvas: b'{"edges":[],"nodes":[]}', Template.tags: []}
    ).where(Template.id == tid)
    try:
        await seed()
    finally:
        await seed()
    repaired = await Template.select().where(Template.id == tid).first().output(load_json=True)
    assert repaired["revision"] == original["revision"] + 1
    assert {k: repaired[k] for k in ("name", "tags", "content_hash", "node_count")} == {
        k: original[k] for k in ("name", "tags", "content_hash", "node_count")
    }
    assert bytes(repaired["canvas"]) == bytes(original["canvas"])
    assert await Template.count() == before


async def test_instantiate_creates_version_1_from_the_template(client, api):
    user = await api.register("tinst")
    template = (await client.get("/api/v1/templates/aws-three-tier", headers=user.headers)).json()
    r = await client.post(
        "/api/v1/templates/aws-three-tier/instantiate",
        json={"organization": user.org_slug, "name": "shop"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    design = r.json()
    assert design["current_version"] == 1 and design["template_id"] == template["id"]
    assert design["canvas"] == template["canvas"] and design["cloud_provider"] == "aws"
    version = (await client.get(f"/api/v1/designs/{design['id']}/versions/1", headers=user.headers)).json()
    assert version["message"] == "From template aws-three-tier"
    resources = (
        await client.get(
            f"/api/v1/orgs/{user.org_slug}/resources",
            params={"type": "aws_db_instance"},
            headers=user.headers,
        )
    ).json()["items"]
    assert [r["design_id"] for r in resources] == [design["id"]]
    stranger = await api.register("tinst2")
    r = await client.post(
        f"/api/v1/templates/{template['id']}/instantiate",
        json={"organization": user.org_slug, "name": "intrusion"},
        headers=stranger.headers,
    )
    assert_problem(r, 404)
    r = await client.post(
        "/api/v1/templates/aws-three-tier/instantiate",
        json={"organization": user.org_slug, "name": "shop"},
        headers=user.headers,
    )
    assert_problem(r, 409, "name")


async def test_publish_organization_template(client, api):
    owner = await api.register("tpub")
    outsider = await api.register("tpub2")
    developer = await api.register("tpub3")
    await api.add_member(owner, developer, "developer")
    design = await create_design(client, owner, vpc_canvas(2), cloud_provider="aws")
    await save(client, owner, design["id"], vpc_canvas(4), base=1)
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/templates",
        json={"design_id": design["id"], "version": 1, "name": "Our network", "tags": ["net"]},
        headers=developer.headers,
    )
    assert r.status_code == 201, r.text
    published = r.json()
    assert (published["slug"], published["public"], published["organization"]) == (
        "our-network",
        False,
        owner.org_slug,
    )
    assert published["node_count"] == 3  # version 1, not the current version
    assert published["cloud_provider"] == "aws" and published["tags"] == ["net"]
    mine = (
        await client.get("/api/v1/templates", params={"organization": owner.org_slug}, headers=owner.headers)
    ).json()
    assert [t["id"] for t in mine["items"]] == [published["id"]]
    assert_problem(await client.get(f"/api/v1/templates/{published['id']}", headers=outsider.headers), 404)
    theirs = (await client.get("/api/v1/templates", params={"limit": 200}, headers=outsider.headers)).json()
    assert published["id"] not in {t["id"] for t in theirs["items"]}
    # Going public needs org:admin.
    body = {"design_id": design["id"], "name": "Public network", "public": True}
    assert_problem(
        await client.post(f"/api/v1/orgs/{owner.org_slug}/templates", json=body, headers=developer.headers),
        403,
    )
    public = (
        await client.post(f"/api/v1/orgs/{owner.org_slug}/templates", json=body, headers=owner.headers)
    ).json()
    seen = await client.get(f"/api/v1/templates/{public['id']}", headers=outsider.headers)
    assert seen.status_code == 200 and seen.json()["organization"] == owner.org_slug
    assert len(seen.json()["canvas"]["nodes"]) == 5  # the current version (4 subnets + vpc)
    dup = {"design_id": design["id"], "name": "Our network"}
    assert_problem(
        await client.post(f"/api/v1/orgs/{owner.org_slug}/templates", json=dup, headers=owner.headers), 409
    )
    other_design = await create_design(client, outsider, vpc_canvas(1))
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/templates",
        json={"design_id": other_design["id"], "name": "stolen"},
        headers=owner.headers,
    )
    assert_problem(r, 404)
    # Deleting: only the publisher; the cached body goes with it.
    assert (
        await client.get(f"/api/v1/templates/{published['id']}", headers=owner.headers)
    ).status_code == 200
    assert_problem(await client.delete(f"/api/v1/templates/{public['id']}", headers=outsider.headers), 403)
    assert (
        await client.delete(f"/api/v1/templates/{published['id']}", headers=owner.headers)
    ).status_code == 204
    assert_problem(await client.get(f"/api/v1/templates/{published['id']}", headers=owner.headers), 404)
    seeded = (await client.get("/api/v1/templates/aws-eks", headers=owner.headers)).json()
    assert_problem(await client.delete(f"/api/v1/templates/{seeded['id']}", headers=owner.headers), 403)


async def test_tag_filter_pages_through_many_templates_without_repeats(client, api):
    """The tag filter scans the catalogue in batches; a template on a batch boundary is listed once."""
    import datetime as dt

    from app.designs.tables import Template

    owner = await api.register("ttag")
    tag = f"bulk-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.UTC)
    rows = [
        Template(
            organization=owner.org_id,
            slug=f"0-{tag}-{i:03d}",
            name=f"0-{tag}-{i:03d}",  # before every seeded name: the batches start at i = 0
            tags=[tag] if i % 10 == 0 else ["other"],
            canvas=b'{"edges":[],"nodes":[]}',
            content_hash="0" * 64,
            created_at=now,
            updated_at=now,
        )
        for i in range(300)
    ]
    await Template.insert(*rows)
    expected = sorted(r.name for r in rows if tag in r.tags)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"tag": tag, "limit": 40, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/templates", params=params, headers=owner.headers)).json()
        assert len(page["items"]) <= 40
        seen += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected
    search = await client.get("/api/v1/templates", params={"q": f"{tag}-00"}, headers=owner.headers)
    assert len(search.json()["items"]) == 10
    literal = await client.get("/api/v1/templates", params={"q": f"{tag}-00_"}, headers=owner.headers)
    assert literal.json()["items"] == []  # "_" is a character to find, not a wildcard
