"""How a message names a bad value without showing it: its type and size, never its content.

Guarantee: ``describe_value`` returns the same words for every value of one type and size, so
an error or warning built with it carries nothing of a capture but that shape.
"""

from __future__ import annotations

from typing import Any


def describe_value(value: Any) -> str:
    """``a text of 13 characters``, ``a number of 10 digits``, ``an object of 2 fields``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"a number of {len(str(abs(value)))} digits"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object of {len(value)} fields"
    return f"a {type(value).__name__}"
