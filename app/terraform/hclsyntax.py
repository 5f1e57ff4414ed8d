"""HCL text helpers: escaping literals, expression values, template splitting, reference scanning.

A canvas property value is plain JSON and always a *literal*; the only way to put a Terraform
expression in a design is the marker object ``{"$expr": "<HCL expression>"}``. Literals are escaped
on output (``${`` -> ``$${``, ``%{`` -> ``%%{``) so user text can never become an expression, and
expressions are parsed before use so they cannot break out of the attribute that holds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

EXPR_KEY = "$expr"
MAX_EXPRESSION_LENGTH = 10_000

META_KEYS = frozenset(
    {"__is_block__", "__start_line__", "__end_line__", "__comments__", "__inline_comments__"}
)
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if", "endif", "else", "endfor"})
_HEREDOC_RE = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\r?\n")
# Functions that read files on the machine running Terraform: Board3's own runner.
FORBIDDEN_FUNCTIONS = re.compile(
    r"(?<![\w:.])(file|fileexists|fileset|filebase64|filebase64sha256|filebase64sha512|filemd5|"
    r"filesha1|filesha256|filesha512|templatefile|pathexpand)\s*\("
)


class ExpressionError(ValueError):
    """An expression that does not parse as exactly one HCL expression."""


def is_identifier(name: str) -> bool:
    return bool(IDENT_RE.match(name))


def is_expr(value: Any) -> bool:
    """True for the expression marker ``{"$expr": "..."}``."""
    return type(value) is dict and len(value) == 1 and type(value.get(EXPR_KEY)) is str


def expr(text: str) -> dict[str, str]:
    return {EXPR_KEY: text}


def expressions(value: Any) -> Iterator[str]:
    """The text of every expression marker inside a value (iterative, so any depth is safe)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if is_expr(v):
            yield v[EXPR_KEY]
        elif type(v) is dict:
            stack.extend(v.values())
        elif type(v) is list:
            stack.extend(v)


def contains_expr(value: Any) -> bool:
    return next(expressions(value), None) is not None


def escape_template(text: str) -> str:
    """Make ``text`` a template whose value is ``text`` itself (no interpolation, no directive)."""
    if "{" not in text:
        return text
    return text.replace("${", "$${").replace("%{", "%%{")


_HCL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_QUOTING = re.compile(r'[\\"\x00-\x1f\x7f\u2028\u2029]')


def _hcl_escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _HCL_ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def hcl_quote(text: str) -> str:
    """An HCL quoted string literal whose value is exactly ``text``."""
    return '"' + escape_template(_NEEDS_QUOTING.sub(_hcl_escape_char, text)) + '"'


def hcl_key(key: str) -> str:
    """An object key: bare when it is a plain identifier, quoted (and escaped) otherwise."""
    if IDENT_RE.match(key) and key not in _KEYWORDS:
        return key
    return hcl_quote(key)


# --------------------------------------------------------------------------------------------
# Templates: split into literal text and interpolations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    """A template's parts: ``str`` for literal text, :class:`Interp` for ``${...}``/``%{...}``."""

    parts: tuple[str | Interp, ...]

    @property
    def literal(self) -> str | None:
        """The value when the template has no interpolation or directive, else None."""
        if all(isinstance(p, str) for p in self.parts):
            return "".join(p for p in self.parts if isinstance(p, str))
        return None

    @property
    def single_interpolation(self) -> str | None:
        """The expression when the whole template is one ``${expr}`` (Terraform returns its value)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Interp) and not self.parts[0].directive:
            return self.parts[0].text
        return None


@dataclass(frozen=True, slots=True)
class Interp:
    text: str
    directive: bool = False


_DECODE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def split_template(text: str, *, quoted: bool) -> Template:
    """Split a template. ``quoted``: ``text`` is HCL quoted-string source (with the quotes and
    backslash escapes); otherwise it is a JSON-syntax string value (already JSON-decoded)."""
    if quoted:
        if len(text) < 2 or text[0] != '"' or text[-1] != '"':
            raise ExpressionError("not a quoted string")
        body = text[1:-1]
    else:
        body = text
    parts: list[str | Interp] = []
    buf: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if quoted and c == "\\" and i + 1 < n:
            m = body[i + 1]
            if m in _DECODE:
                buf.append(_DECODE[m])
                i += 2
                continue
            width = {"u": 4, "U": 8}.get(m)
            if width and re.fullmatch(r"[0-9a-fA-F]+", body[i + 2 : i + 2 + width] or "-"):
                code = int(body[i + 2 : i + 2 + width], 16)
                if len(body[i + 2 : i + 2 + width]) == width and code <= 0x10FFFF:
                    buf.append(chr(code))
                    i += 2 + width
                    continue
            buf.append(c)
            i += 1
            continue
        if c in "$%" and body.startswith(c + c + "{", i):
            buf.append(c + "{")
            i += 3
            continue
        if c in "$%" and body.startswith(c + "{", i):
            end = _scan_expression(body, i + 2, [], stop_at_brace=True)
            if end >= n:
                raise ExpressionError("unterminated template sequence")
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Interp(body[i + 2 : end].strip().strip("~").strip(), directive=c == "%"))
            i = end + 1
            continue
        buf.append(c)
        i += 1
    if buf:
        parts.append("".join(buf))
    return Template(tuple(parts))


# --------------------------------------------------------------------------------------------
# References: traversals that appear in expression positions
# --------------------------------------------------------------------------------------------


def find_references(text: str) -> list[tuple[str, ...]]:
    """Dotted traversals (``("aws_vpc", "main", "id")``, ``("var", "region")``) in an expression.

    Names inside string literals are not references; interpolations inside them are scanned.
    Function names and attribute accesses after an index (``x[0].id`` gives ``x`` only) are skipped.
    """
    refs: list[tuple[str, ...]] = []
    _scan_expression(text, 0, refs, stop_at_brace=False)
    return refs


def _scan_string(text: str, i: int, refs: list[tuple[str, ...]]) -> int:
    """Scan a quoted string starting after its opening quote; return the index after its close."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        elif c in "$%" and text.startswith(c + c + "{", i):
            i += 3
        elif c in "$%" and text.startswith(c + "{", i):
            i = _scan_expression(text, i + 2, refs, stop_at_brace=True) + 1
        else:
            i += 1
    return n


def _scan_heredoc(text: str, i: int, refs: list[tuple[str, ...]]) -> int:
    m = _HEREDOC_RE.match(text, i)
    if not m:
        return i + 2
    end_re = re.compile(r"^[ \t]*" + re.escape(m.group(2)) + r"[ \t]*$", re.M)
    end = end_re.search(text, m.end())
    stop = end.start() if end else len(text)
    j = m.end()
    while j < stop:
        if text.startswith("$${", j) or text.startswith("%%{", j):
            j += 3
        elif text.startswith("${", j) or text.startswith("%{", j):
            j = _scan_expression(text, j + 2, refs, stop_at_brace=True) + 1
        else:
            j += 1
    return end.end() if end else len(text)


def _scan_expression(text: str, i: int, refs: list[tuple[str, ...]], *, stop_at_brace: bool) -> int:
    depth = 0
    n = len(text)
    prev = ""  # last significant character before the current token
    while i < n:
        c = text[i]
        if c == '"':
            i = _scan_string(text, i + 1, refs)
            prev = '"'
            continue
        if c == "<" and text.startswith("<<", i):
            i = _scan_heredoc(text, i, refs)
            prev = '"'
            continue
        if c == "#" or (c == "/" and text.startswith("//", i)):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if c == "/" and text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0 and stop_at_brace:
                return i
            depth -= 1
        elif c.isdigit():
            j = i + 1
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            if j < n and text[j] in "eE":
                j += 1
                if j < n and text[j] in "+-":
                    j += 1
                while j < n and text[j].isdigit():
                    j += 1
            i, prev = j, "0"
            continue
        elif c.isalpha() or c == "_":
            j = i
            parts: list[str] = []
            while True:
                k = j
                while k < n and (text[k].isalnum() or text[k] in "_-"):
                    k += 1
                parts.append(text[j:k])
                if k + 1 < n and text[k] == "." and (text[k + 1].isalpha() or text[k + 1] == "_"):
                    j = k + 1
                    continue
                break
            after = k
            while after < n and text[after] in " \t":
                after += 1
            is_call = after < n and (text[after] == "(" or text.startswith("::", after))
            if prev != "." and not is_call and len(parts) >= 2:
                refs.append(tuple(parts))
            i, prev = k, "a"
            continue
        if not c.isspace():
            prev = c
        i += 1
    return n


# --------------------------------------------------------------------------------------------
# Parsing HCL text (python-hcl2, one set of options for every caller)
# --------------------------------------------------------------------------------------------


class HclSyntaxError(ValueError):
    """Text that python-hcl2 cannot read; ``line`` when the parser knows where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _first_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return (lines[0] if lines else "syntax error")[:300]


def parse_hcl(text: str) -> Any:
    """``text`` as python-hcl2 serialises it: no comments, heredocs as plain strings.

    python-hcl2 (and lark under it) is imported on first use: it is slow to import and most
    processes never parse HCL. Every parse error, however deep in the parser, is an
    ``HclSyntaxError`` with its first line as the message."""
    import hcl2
    from hcl2.utils import SerializationOptions
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        return hcl2.loads(
            text, serialization_options=SerializationOptions(with_comments=False, preserve_heredocs=False)
        )
    except UnexpectedInput as exc:
        raise HclSyntaxError(_first_line(str(exc)), getattr(exc, "line", None)) from None
    except (LarkError, ValueError, RecursionError) as exc:
        raise HclSyntaxError(_first_line(str(exc)) if str(exc).strip() else type(exc).__name__) from None


# --------------------------------------------------------------------------------------------
# Expressions: parse (to refuse anything that is not exactly one expression) and normalise
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def normalize_expression(text: str) -> str:
    """Parse ``text`` as one HCL expression and return it in a canonical single-line form.

    Raises ExpressionError when it is empty, too long, not valid HCL, or more than one expression
    (``1\\ny = 2`` would otherwise smuggle a second attribute into the generated file).
    """
    if not text.strip():
        raise ExpressionError("expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        parsed = parse_hcl(f"__x__ = {text}\n")
    except HclSyntaxError as exc:
        raise ExpressionError(f"not a valid HCL expression ({str(exc)[:200]})") from None
    if not isinstance(parsed, dict) or list(parsed) != ["__x__"]:
        raise ExpressionError("must be exactly one expression")
    return raw_to_source(parsed["__x__"])


def raw_to_source(raw: Any) -> str:
    """HCL source for a value as python-hcl2 serialises it (quoted strings keep their quotes)."""
    if raw is None:
        return "null"
    if raw is True:
        return "true"
    if raw is False:
        return "false"
    if isinstance(raw, int | float):
        return repr(raw)
    if isinstance(raw, str):
        return unwrap_interpolation(raw)
    if isinstance(raw, list):
        return "[" + ", ".join(raw_to_source(v) for v in raw) + "]"
    if isinstance(raw, dict):
        items = [
            f"{unwrap_interpolation(k)} = {raw_to_source(v)}" for k, v in raw.items() if k not in META_KEYS
        ]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise ExpressionError(f"unsupported value {type(raw).__name__}")


def unwrap_interpolation(raw: str) -> str:
    """``${x}`` -> ``x``; quoted strings and bare words are returned as they are."""
    if raw.startswith("${") and raw.endswith("}"):
        return raw[2:-1]
    return raw


def forbidden_function(text: str) -> str | None:
    """The name of a file-reading function called in ``text`` (they would read Board3's disk)."""
    m = FORBIDDEN_FUNCTIONS.search(text)
    return m.group(1) if m else None
