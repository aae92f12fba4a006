"""Run ``shadow`` with one function made to block, so a test can signal it mid-command.

Usage: python signal_target.py READY_FILE MODULE:ATTR CALL_NUMBER -- shadow arguments...

The CALL_NUMBER-th call of ``MODULE.ATTR`` touches READY_FILE and sleeps; the others pass
through. Everything else is the real command: its real signal handlers, cleanup and exit status.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    ready, target, number, separator, *arguments = sys.argv[1:]
    assert separator == "--"
    module_name, attr = target.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, attr)
    calls = 0

    def blocking(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == int(number):
            Path(ready).write_text("ready", encoding="utf-8")
            while True:
                time.sleep(0.05)
        return original(*args, **kwargs)

    setattr(module, attr, blocking)
    from shadow.cli.app import main as shadow_main

    sys.argv = ["shadow", *arguments]
    shadow_main()


if __name__ == "__main__":
    main()
