"""coordinator-shadow: the harness that decides whether the unified coordinator may go ahead."""

__version__ = "0.1.0"
