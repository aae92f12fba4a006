"""Why did a message differ: re-run arms capturing decision events, checked against the
stored outcomes."""

from shadow.explain.timelines import Timeline, describe_event, open_run, rerun

__all__ = ["Timeline", "describe_event", "open_run", "rerun"]
