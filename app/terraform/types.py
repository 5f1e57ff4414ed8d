"""Terraform type expressions (``list(string)``, ``object({a = number})``) and value checks.

Values are checked the way Terraform converts them: numbers and bools are accepted where a string
is expected, numeric strings where a number is, ``"true"``/``"false"`` where a bool is; expression
markers are not checked (their type is only known to Terraform).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.terraform.hclsyntax import is_expr


class TypeError_(ValueError):
    """A type expression that does not parse."""


@dataclass(frozen=True, slots=True)
class TfType:
    kind: str  # string number bool any list set map object tuple
    element: TfType | None = None
    attrs: tuple[tuple[str, TfType, bool], ...] = ()  # object: (name, type, optional)
    items: tuple[TfType, ...] = ()  # tuple

    def __str__(self) -> str:
        if self.kind in ("list", "set", "map"):
            return f"{self.kind}({self.element})"
        if self.kind == "object":
            inner = ", ".join(f"{n} = {'optional(' + str(t) + ')' if o else t}" for n, t, o in self.attrs)
            return "object({" + inner + "})"
        if self.kind == "tuple":
            return "tuple([" + ", ".join(str(t) for t in self.items) + "])"
        return self.kind


ANY = TfType("any")
_PRIMITIVES = {"string", "number", "bool", "any", "dynamic"}
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*|\"(?:[^\"\\]|\\.)*\"|[(){}\[\],=]|-?\d+(?:\.\d+)?)")


@lru_cache(maxsize=2048)
def parse_type(text: str) -> TfType:
    """Parse a Terraform type expression (``optional(T, default)`` is accepted inside objects)."""
    tokens = _tokens(text)
    pos, result = _parse(tokens, 0, text)
    if pos != len(tokens):
        raise TypeError_(f"unexpected {tokens[pos]!r} in type {text!r}")
    return result


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TypeError_(f"cannot read type {text!r} at {text[pos : pos + 10]!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _expect(tokens: list[str], pos: int, tok: str, text: str) -> int:
    if pos >= len(tokens) or tokens[pos] != tok:
        raise TypeError_(f"expected {tok!r} in type {text!r}")
    return pos + 1


def _parse(tokens: list[str], pos: int, text: str, depth: int = 0) -> tuple[int, TfType]:
    if depth > 20:
        raise TypeError_("type is nested too deeply")
    if pos >= len(tokens):
        raise TypeError_(f"incomplete type {text!r}")
    word = tokens[pos]
    if word in _PRIMITIVES:
        return pos + 1, TfType("any" if word == "dynamic" else word)
    if word in ("list", "set", "map"):
        pos = _expect(tokens, pos + 1, "(", text)
        pos, element = _parse(tokens, pos, text, depth + 1)
        return _expect(tokens, pos, ")", text), TfType(word, element=element)
    if word == "tuple":
        pos = _expect(tokens, _expect(tokens, pos + 1, "(", text), "[", text)
        items: list[TfType] = []
        while pos < len(tokens) and tokens[pos] != "]":
            pos, item = _parse(tokens, pos, text, depth + 1)
            items.append(item)
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
        pos = _expect(tokens, _expect(tokens, pos, "]", text), ")", text)
        return pos, TfType("tuple", items=tuple(items))
    if word == "object":
        pos = _expect(tokens, _expect(tokens, pos + 1, "(", text), "{", text)
        attrs: list[tuple[str, TfType, bool]] = []
        while pos < len(tokens) and tokens[pos] != "}":
            name = tokens[pos].strip('"')
            pos = _expect(tokens, pos + 1, "=", text)
            optional = tokens[pos] == "optional" if pos < len(tokens) else False
            if optional:
                pos = _expect(tokens, pos + 1, "(", text)
            pos, atype = _parse(tokens, pos, text, depth + 1)
            if optional:
                pos = _skip_to_close(tokens, pos, text)
            attrs.append((name, atype, optional))
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
        pos = _expect(tokens, _expect(tokens, pos, "}", text), ")", text)
        return pos, TfType("object", attrs=tuple(attrs))
    raise TypeError_(f"unknown type {word!r} in {text!r}")


def _skip_to_close(tokens: list[str], pos: int, text: str) -> int:
    """Skip an ``optional(T, default)`` default value up to the closing parenthesis."""
    depth = 0
    while pos < len(tokens):
        tok = tokens[pos]
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            if depth == 0:
                return _expect(tokens, pos, ")", text)
            depth -= 1
        pos += 1
    raise TypeError_(f"unterminated optional() in type {text!r}")


NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")  # a number literal


def check_value(value: Any, ty: TfType) -> str | None:
    """Why ``value`` cannot be converted to ``ty`` (None when it can)."""
    if value is None or is_expr(value) or ty.kind == "any":
        return None
    kind = ty.kind
    if kind == "string":
        if isinstance(value, str | bool | int | float):
            return None
        return f"expected a string, got {_describe(value)}"
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None
        if isinstance(value, str) and NUMBER.match(value):
            return None
        return f"expected a number, got {_describe(value)}"
    if kind == "bool":
        if isinstance(value, bool) or value in ("true", "false"):
            return None
        return f"expected a bool, got {_describe(value)}"
    if kind in ("list", "set", "tuple"):
        if not isinstance(value, list):
            return f"expected a {kind}, got {_describe(value)}"
        if kind == "tuple":
            if len(value) != len(ty.items):
                return f"expected a tuple of {len(ty.items)} elements, got {len(value)}"
            pairs = list(zip(value, ty.items, strict=True))
        else:
            assert ty.element is not None
            pairs = [(v, ty.element) for v in value]
        for i, (v, t) in enumerate(pairs):
            problem = check_value(v, t)
            if problem:
                return f"[{i}]: {problem}"
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return f"expected a map, got {_describe(value)}"
        assert ty.element is not None
        for k, v in value.items():
            problem = check_value(v, ty.element)
            if problem:
                return f"[{k!r}]: {problem}"
        return None
    if kind == "object":
        if not isinstance(value, dict):
            return f"expected an object, got {_describe(value)}"
        for name, atype, optional in ty.attrs:
            if name not in value:
                if not optional:
                    return f"missing attribute {name!r}"
                continue
            problem = check_value(value[name], atype)
            if problem:
                return f".{name}: {problem}"
        return None
    return None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def value_depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists/objects deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            if d >= limit:
                return True
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            if d >= limit:
                return True
            stack.extend((x, d + 1) for x in v)
    return False
