"""Deterministic sample designs of any size (demos, diagrams, benchmarks and tests).

``aws_design(n)`` repeats a realistic web stack (VPC, subnets, instances, load balancer, database,
bucket, IAM); ``offline_design(n)`` uses only ``terraform_data`` so Terraform can run it offline.
"""

from __future__ import annotations

from app.terraform.canvas import Canvas, Edge, Node

STACK_SIZE = 23  # nodes one _stack() adds


def aws_design(n_nodes: int) -> Canvas:
    """Exactly ``n_nodes`` nodes: an environment variable, whole stacks, then buckets to fill up."""
    nodes: list[Node] = [
        Node(
            id="var-env", type="variable", name="environment", properties={"type": "string", "default": "dev"}
        )
    ]
    edges: list[Edge] = []
    k = 0
    while len(nodes) + STACK_SIZE <= n_nodes:
        _stack(k, nodes, edges)
        k += 1
    i = 0
    while len(nodes) < n_nodes:
        nodes.append(
            Node(id=f"extra-{i}", type="aws_s3_bucket", name=f"extra_{i}", properties={"bucket": f"x-{i}"})
        )
        i += 1
    return Canvas(nodes=nodes, edges=edges)


def _stack(k: int, nodes: list[Node], edges: list[Edge]) -> None:
    def add(nid: str, ntype: str, label: str, parent: str | None = None, **props: object) -> str:
        full = f"{nid}-{k}"
        nodes.append(Node(id=full, type=ntype, name=f"{label}_{k}", properties=dict(props), parent=parent))
        return full

    def link(src: str, dst: str, attribute: str | None = None) -> None:
        edges.append(Edge(source=src, target=dst, attribute=attribute))

    vpc = add("vpc", "aws_vpc", "main", cidr_block=f"10.{k % 250}.0.0/16", tags={"Name": f"stack-{k}"})
    sg = add("sg", "aws_security_group", "web", vpc, name=f"web-{k}", description="web traffic")
    link(sg, vpc)
    subnets = []
    for z in range(3):
        s = add(f"subnet{z}", "aws_subnet", f"app{z}", vpc, cidr_block=f"10.{k % 250}.{z}.0/24")
        link(s, vpc)
        subnets.append(s)
    role = add("role", "aws_iam_role", "app", assume_role_policy='{"Version": "2012-10-17", "Statement": []}')
    profile = add("profile", "aws_iam_instance_profile", "app")
    link(profile, role)
    instances = []
    for i in range(6):
        inst = add(
            f"vm{i}", "aws_instance", f"app{i}", subnets[i % 3], instance_type="t3.micro", ami="ami-123"
        )
        link(inst, subnets[i % 3])
        link(inst, sg)
        link(inst, profile)
        instances.append(inst)
    lb = add("lb", "aws_lb", "web", load_balancer_type="application")
    for s in subnets:
        link(lb, s)
    link(lb, sg)
    tg = add("tg", "aws_lb_target_group", "web", port=80, protocol="HTTP")
    link(tg, vpc)
    listener = add("listener", "aws_lb_listener", "http", port=80, protocol="HTTP")
    link(listener, lb)
    link(listener, tg)
    for i, inst in enumerate(instances[:2]):
        att = add(f"att{i}", "aws_lb_target_group_attachment", f"app{i}")
        link(att, tg)
        link(att, inst)
    dbsg = add("dbsubnets", "aws_db_subnet_group", "db")
    for s in subnets:
        link(dbsg, s)
    db = add(
        "db", "aws_db_instance", "main", instance_class="db.t3.micro", engine="postgres", allocated_storage=20
    )
    link(db, dbsg)
    link(db, sg)
    bucket = add("bucket", "aws_s3_bucket", "assets", bucket=f"assets-{k}", tags={"env": "dev"})
    ver = add("ver", "aws_s3_bucket_versioning", "assets", versioning_configuration=[{"status": "Enabled"}])
    link(ver, bucket)
    out = add("out", "output", "lb_dns")
    link(out, lb, "dns_name")


def offline_design(n_nodes: int, fanout: int = 2) -> Canvas:
    """``terraform_data`` nodes in layers: each refers to up to ``fanout`` nodes of the previous one."""
    nodes = [
        Node(
            id="var-prefix",
            type="variable",
            name="prefix",
            properties={"type": "string", "default": "board3"},
        )
    ]
    edges: list[Edge] = []
    width = max(2, int(n_nodes**0.5))
    for i in range(max(0, n_nodes - 2)):
        nid = f"d{i}"
        nodes.append(
            Node(id=nid, type="terraform_data", name=f"item_{i}", properties={"input": f"value {i}"})
        )
        layer = i // width
        if layer > 0:
            for j in range(fanout):
                target = (layer - 1) * width + (i + j) % width
                edges.append(Edge(source=nid, target=f"d{target}"))
    if n_nodes >= 2 and len(nodes) > 1:
        last = nodes[-1].id
        nodes.append(Node(id="out-last", type="output", name="last"))
        edges.append(Edge(source="out-last", target=last, attribute="output"))
    return Canvas(nodes=nodes, edges=edges)
