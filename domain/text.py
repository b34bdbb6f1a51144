"""Limits on free text, stated once and checked in one place."""

from __future__ import annotations

from .errors import InvalidInput

TITLE_MAX = 120
NAME_MAX = 80
ORGANISATION_MAX = 120
IDEA_MAX = 500
SUMMARY_MAX = 2000
BRIEFING_MAX = 20_000
VENUE_MAX = 200


def require_text(field: str, value: str, max_length: int, *, allow_empty: bool = False) -> str:
    """Return the text stripped, or raise InvalidInput naming the field."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field)
    cleaned = value.strip()
    if not cleaned and not allow_empty:
        raise InvalidInput(f"{field} must not be empty", field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field)
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in cleaned):
        # NUL and the other control characters cannot be stored or shown as text.
        raise InvalidInput(f"{field} must not contain control characters", field)
    return cleaned
