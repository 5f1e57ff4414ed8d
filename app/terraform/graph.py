"""The design graph: canvas nodes with their Terraform addresses, edges resolved to what they set.

``Analysis`` is what validation produces and code generation consumes: every node's address and
catalog entry, and every valid edge resolved to a mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.terraform.canvas import Canvas, Edge, Node
from app.terraform.catalog import Catalog
from app.terraform.catalog_types import Kind, ModuleSpec, NodeType
from app.terraform.results import Problem

EdgeMode = Literal["property", "list", "depends_on", "expression", "output"]

# Reference roots that never point at a canvas node.
_NON_NODE_ROOTS = frozenset({"each", "count", "path", "self", "terraform"})


@dataclass(slots=True)
class NodeInfo:
    index: int
    node: Node
    kind: Kind | None
    address: str
    ntype: NodeType | None = None
    module: ModuleSpec | None = None


@dataclass(slots=True)
class EdgeInfo:
    """A valid edge: ``mode`` says what it generates; ``ref`` is the reference expression."""

    index: int
    edge: Edge
    source: NodeInfo
    target: NodeInfo
    mode: EdgeMode
    prop: str | None
    ref: str


@dataclass(slots=True)
class Analysis:
    canvas: Canvas
    nodes: list[NodeInfo]
    by_id: dict[str, NodeInfo]
    edges: list[EdgeInfo]
    problems: list[Problem] = field(default_factory=list)
    # node id -> property -> node ids its expressions refer to (for implicit dependencies)
    expression_refs: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    # expression text -> its canonical form, parsed once by validation for code generation
    expressions: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.problems


def address_of(node: Node, kind: Kind | None) -> str:
    """The Terraform address: ``aws_vpc.main``, ``data.aws_ami.x``, ``module.net``, ``var.region``."""
    if kind == "module":
        return f"module.{node.name}"
    if kind == "variable":
        return f"var.{node.name}"
    if kind == "output":
        return f"output.{node.name}"
    return f"{node.type}.{node.name}"


def label_of(node: Node) -> str:
    """How problems name a node: ``type.name`` (``variable name`` and ``output name``)."""
    if node.type in ("variable", "output"):
        return f"{node.type} {node.name}"
    return f"{node.type}.{node.name}"


class AddressIndex:
    """Finds the node a reference (``("aws_vpc", "main", "id")``) points at."""

    def __init__(self, infos: list[NodeInfo], catalog: Catalog) -> None:
        self.catalog = catalog
        self.by_address: dict[str, NodeInfo] = {}
        self.node_types: set[str] = set()
        for info in infos:
            self.by_address.setdefault(info.address, info)
            self.node_types.add(info.node.type)

    def resolve(self, parts: tuple[str, ...]) -> tuple[NodeInfo | None, str | None, str | None]:
        """``(node, problem_code, message)``: node when found; a problem when the reference
        clearly names something the design lacks; all None for names that are not references."""
        if len(parts) < 2 or parts[0] in _NON_NODE_ROOTS:  # a bare word: ``depends_on = [aws_vpc]``
            return None, None, None
        root, name = parts[0], parts[1]
        if root == "local":
            return None, "missing-reference", f"refers to local.{name}; designs have no local values"
        if root == "data" and len(parts) < 3:
            return None, None, None
        address = f"data.{name}.{parts[2]}" if root == "data" else f"{root}.{name}"
        found = self.by_address.get(address)
        if found is None:
            if root == "var":
                return (
                    None,
                    "missing-variable",
                    f"refers to variable {name!r}, which the design does not define",
                )
            if root == "module":
                return (
                    None,
                    "missing-reference",
                    f"refers to module {name!r}, which the design does not contain",
                )
            if root == "data" or root in self.catalog.types or root in self.node_types:
                return None, "missing-reference", f"refers to {address}, which the design does not contain"
            return None, None, None
        module = found.module
        if root == "module" and len(parts) > 2 and module is not None and parts[2] not in module.outputs:
            return (
                None,
                "missing-module-output",
                f"refers to {address}.{parts[2]}, but module {module.name!r} has no output {parts[2]!r}",
            )
        return found, None, None


def reference(target: NodeInfo, attribute: str | None) -> str:
    """Reference expression to ``target`` (``aws_vpc.main.id``, ``var.region``, ``module.m.out``)."""
    if target.kind == "variable":
        return target.address
    if attribute is None:
        return target.address
    return f"{target.address}.{attribute}"


def set_path(props: dict[str, Any], path: str, value: Any, *, append: bool, block_list: bool) -> None:
    """Set ``path`` (``prop`` or ``block.prop``) in a properties dict copy-on-write style.

    ``block.prop`` goes into the block's first element; the block is created when absent.
    """
    head, _, rest = path.partition(".")
    if not rest:
        if append:
            props[head] = [*props.get(head, []), value]
        else:
            props[head] = value
        return
    block = props.get(head)
    if block_list:
        elements = [dict(x) for x in block] if isinstance(block, list) and block else [{}]
        target = elements[0]
        props[head] = elements
    else:
        target = dict(block) if isinstance(block, dict) else {}
        props[head] = target
    if append:
        target[rest] = [*target.get(rest, []), value]
    else:
        target[rest] = value
