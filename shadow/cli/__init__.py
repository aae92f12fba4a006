"""The command line: one module per command family, assembled in ``app``. The only package
that prints, picks an exit status or reads the wall clock for progress."""

from shadow.cli.app import app, main

__all__ = ["app", "main"]
