"""The ``shadow`` command line: a thin typer layer over the library.

The only package that prints with rich or picks an exit status. Each command (one module per
command family, registered here in ``--help`` order) parses its options, calls one library
function, and renders the result. Exit statuses: 0 ok, 1 check failed, 2 needs a human, 3 bad
usage or input, 4 internal error (traceback to ``crash.txt``, never to the terminal; neither
holds a value, only frames and the exception's type: ``crash_report``).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperOption

import shadow.cli.bench as bench
import shadow.cli.captures as captures
import shadow.cli.config as config
import shadow.cli.explain as explain
import shadow.cli.gate as gate
import shadow.cli.memory as memory
import shadow.cli.replay as replay
import shadow.cli.report as report
import shadow.cli.repro as repro
import shadow.cli.rollout as rollout
import shadow.cli.serve as serve
import shadow.cli.sweep as sweep
import shadow.cli.watch as watch
from shadow.cli.output import err, out
from shadow.common import Interrupted, ShadowError, describe_value, install_handlers


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _option_type(self, ctx)


# typer 0.2x labels every flag ``<bool>`` in --help, as if it took a value: a flag has no type.
_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"shadow {version('coordinator-shadow')}", markup=False)
        raise typer.Exit()


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


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Replay WhatsApp traffic through the legacy coordinators and the unified one, compare
    them message by message, and gate each rollout stage."""


config_app.command("show")(config.config_show)
app.command("validate")(captures.validate_command)
app.command("redact")(captures.redact_command)
app.command("scenarios")(captures.scenarios_command)
app.command("generate")(captures.generate_command)
app.command()(replay.replay)
app.command()(explain.explain)
app.command()(repro.repro)
app.command()(report.report)
app.command()(memory.memory)
app.command()(bench.bench)
app.command()(rollout.rollout)
app.command()(gate.gate)
app.command()(sweep.sweep)
app.command()(watch.watch)
app.command()(serve.serve)


def main() -> None:
    """Console entry point: maps errors to exit statuses; never prints a traceback.

    SIGINT and SIGTERM stop the command: temporary output is removed on the way out, one line
    says "interrupted", and the exit status is 130 or 143.
    """
    install_handlers()
    try:
        result = app(standalone_mode=False)
        if result == 130:  # click returns, not raises, on an interrupt when not standalone
            err.print("interrupted", markup=False)
            sys.exit(130)
    except Interrupted as exc:
        err.print("interrupted", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except ShadowError as exc:
        # a verdict (gate fail, validate's bad lines) is a result, not an error
        label = "error" if exc.exit_code >= 3 else "result"
        err.print(f"{label}: {exc.message}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        sys.exit(0 if type(exc).__name__ == "NoArgsIsHelpError" else 3)
    except SystemExit:
        raise
    except Exception as exc:
        _crash(exc)


def crash_report(exc: BaseException) -> str:
    """The traceback of ``exc`` and of the exceptions it chains, without any value: frames
    (file, line, function, source line) and each exception's type with its arguments described
    by type and size, never shown (they may quote a capture)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        args = ", ".join(describe_value(arg) for arg in current.args)
        parts.append(
            "Traceback (most recent call last):\n"
            + "".join(frames.format())
            + f"{type(current).__qualname__}({args})\n"
        )
        cause = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
        if cause is not None:
            parts.append("\ncaused by, or raised while handling:\n\n")
        current = cause
    return "".join(parts)


def _crash(exc: BaseException) -> None:
    crash_dir = Path(getattr(exc, "run_dir", None) or ".")
    crash_file = crash_dir / "crash.txt"
    try:
        crash_file.write_text(crash_report(exc), encoding="utf-8")
        where = f" (traceback in {crash_file})"
    except OSError:
        where = ""
    err.print(f"internal error: {type(exc).__name__}{where}", markup=False)
    sys.exit(4)


if __name__ == "__main__":
    main()
