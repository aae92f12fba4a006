"""The recorder's one exception, apart from the compiled modules (setup.py): mypyc does not
compile a class inheriting from a builtin exception; compiled code raises it all the same."""

from __future__ import annotations


class OutcomeTaken(RuntimeError):
    """A decision about a seq whose outcome was already taken out of the recorder."""
