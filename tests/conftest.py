"""Shared test settings: hypothesis never times a test (a deadline is a timed assertion)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


#: The longest tests (each a minute or more on the 2-core machine, `--durations`), in the order
#: they start under `make test`'s pytest-xdist: a long test started last would keep one worker
#: busy alone at the end. Everything else keeps its collection order.
LONGEST_FIRST = (
    "tests/integration/test_wheel.py::test_the_compiled_build_writes_the_same_bytes",
    "tests/integration/test_leaks.py::test_nothing_written_or_printed_holds_a_capture_value",
    "tests/integration/test_watch.py::test_sigkill_twenty_times_loses_and_doubles_nothing",
    "tests/integration/test_readme_examples.py::",
    "tests/integration/test_wheel.py::",
    "tests/integration/test_leaks.py::",
    "tests/integration/test_watch.py::",
    "tests/integration/test_open_readings.py::",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        for index, prefix in enumerate(LONGEST_FIRST):
            if item.nodeid.startswith(prefix):
                return index
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable
