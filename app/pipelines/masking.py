"""Masking secrets in what a run prints: every log line and the plan before either is stored.

A sensitive variable's value is masked as written and in the forms it can take in terraform's
output: JSON-escaped (inside a ``-json`` line or a JSON document) and base64 (a provider that
encodes it). Pure.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 3  # shorter values would mask ordinary words and digits all over the log


def _forms(secret: str) -> set[str]:
    forms = {secret}
    escaped = json.dumps(secret)[1:-1]
    forms.add(escaped)
    forms.add(json.dumps(escaped)[1:-1])  # JSON inside a JSON string (a -json line's message)
    raw = secret.encode()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms.add(text)
        forms.add(text.rstrip("="))
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Masker:
    """Replaces every known form of each secret with ``***`` (longest first, in one pass)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                forms |= _forms(secret)
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        return value if self._pattern is None else self._pattern.sub(MASK, value)

    def data(self, value: Any) -> Any:
        """A JSON-like structure with every string (keys included) masked."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value
