"""Email address validation and normalization (lower-cased, IDNA-normalized domain)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from app.lib.errors import FieldError, ValidationFailed


def normalize_email(raw: str, field: str = "email") -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed("email address is not valid", errors=[FieldError(field, str(exc))]) from None
