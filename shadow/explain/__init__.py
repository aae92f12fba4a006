"""Why did a message differ: re-run arms capturing decision events, checked against the
stored outcomes."""

from shadow.explain.timelines import open_run, rerun

__all__ = ["open_run", "rerun"]
