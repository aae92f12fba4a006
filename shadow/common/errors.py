"""The errors a command may stop on, each with its exit status (docs/reference.md)."""

from __future__ import annotations


class ShadowError(Exception):
    """A stop with a clear one-line message; ``exit_code`` per docs/reference.md."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(ShadowError):
    """Bad input: names the file, the line (when there is one) and the reason. Exit 3."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


class UsageError(ShadowError):
    """Bad usage: an unknown key, a bad value, a refused output folder. Exit 3."""


class CheckFailed(ShadowError):
    """The check ran and failed (validate found bad lines, gate failed). Exit 1."""

    exit_code = 1
