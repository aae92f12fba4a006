"""The ``shadow`` command line: a thin typer layer over the library.

This is the only module that prints with rich or picks an exit status. Each command parses
its options, calls one library function, and renders the result. Exit statuses follow
contracts.md: 0 ok, 1 check failed, 2 needs a human, 3 bad usage or input, 4 internal error
(traceback to ``crash.txt``, never to the terminal).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console

from shadow.errors import ShadowError

app = typer.Typer(
    name="shadow",
    help="Replay WhatsApp traffic through the legacy coordinators and the unified one, "
    "compare them message by message, and gate each rollout stage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one config key: dotted.key=value (repeatable)."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="A YAML configuration file.", exists=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")
]


def print_json(document: Any) -> None:
    """One JSON document on stdout, sorted keys, nothing else."""
    import json

    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# --- commands: each block below belongs to one feature; edit only your own block ----------

# [command: config show]
# [end: config show]

# [command: validate]
# [end: validate]

# [command: redact]
# [end: redact]

# [command: scenarios]
# [end: scenarios]

# [command: generate]
# [end: generate]

# [command: replay]
# [end: replay]

# [command: explain]
# [end: explain]

# [command: report]
# [end: report]

# [command: bench]
# [end: bench]

# [command: rollout]
# [end: rollout]

# [command: gate]
# [end: gate]

# [command: sweep]
# [end: sweep]


def main() -> None:
    """Console entry point: maps errors to exit statuses; never prints a traceback."""
    try:
        app(standalone_mode=False)
    except ShadowError as exc:
        err.print(f"error: {exc.message}", markup=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(3)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: exit 4, no traceback
        _crash(exc)


def _crash(exc: BaseException) -> None:
    crash_dir = Path(getattr(exc, "run_dir", None) or ".")
    crash_file = crash_dir / "crash.txt"
    try:
        crash_file.write_text("".join(traceback.format_exception(exc)))
        where = f" (traceback in {crash_file})"
    except OSError:
        where = ""
    err.print(f"internal error: {type(exc).__name__}: {exc}{where}", markup=False)
    sys.exit(4)


if __name__ == "__main__":
    main()
