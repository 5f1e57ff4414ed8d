"""The catalog endpoint through the whole app, and in the OpenAPI document."""

from __future__ import annotations

from tests.support.api import assert_problem


async def test_reference_rules_say_which_properties_take_lists(client, api):
    account = await api.register("catalogue")
    items, cursor = [], None
    while True:
        params = {"provider": "aws", "limit": 200} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/api/v1/catalog/resource-types", params=params, headers=account.headers)
        page = r.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    by_type = {t["type"]: t for t in items}
    instance_refs = {r["property"]: r for r in by_type["aws_instance"]["references"]}
    assert instance_refs["vpc_security_group_ids"]["list"] is True
    assert instance_refs["subnet_id"].get("list", False) is False
    doc = (await client.get("/schema/openapi.json")).json()
    assert "list" in doc["components"]["schemas"]["ReferenceRead"]["properties"]


async def test_variables_and_outputs_list_every_property_validation_accepts(client, api):
    account = await api.register("catalogfixed")
    r = await client.get(
        "/api/v1/catalog/resource-types", params={"kind": "variable"}, headers=account.headers
    )
    [variable] = r.json()["items"]
    assert set(variable["properties"]) == {"type", "default", "description", "sensitive", "nullable"}
    r = await client.get("/api/v1/catalog/resource-types", params={"kind": "output"}, headers=account.headers)
    [output] = r.json()["items"]
    assert set(output["properties"]) == {"value", "description", "sensitive"}
    for cursor in ("nope!", "WzFd"):  # not base64 JSON; a list without a type name
        r = await client.get(
            "/api/v1/catalog/resource-types", params={"cursor": cursor}, headers=account.headers
        )
        assert_problem(r, 400, "query.cursor")
