"""setuptools' build backend, plus mypy (for mypyc) when ``SHADOW_COMPILE=1`` asks for it.

A pure build (the default) needs nothing beyond setuptools; only a compiled wheel downloads
mypy, pinned so that every compiled build is made by the same mypyc. Editable installs are never
compiled: an edited model must take effect at once.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (the whole PEP 517 interface)

MYPYC = "mypy==2.4.1"  # keep equal to requirements-test.lock


def _compile_requires() -> list[str]:
    return [MYPYC] if os.environ.get("SHADOW_COMPILE") == "1" else []


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return build_meta.get_requires_for_build_wheel(config_settings) + _compile_requires()
