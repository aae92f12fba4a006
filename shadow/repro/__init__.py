"""``shadow repro``: the smallest scenario that still shows a divergence signature, with a
pytest file and a bug report; and the ``shadow repro`` command of a signature."""

from shadow.repro.run import (
    NotReproduced,
    ReproResult,
    check_arguments,
    repro_command,
    repro_commands,
    reproduce,
)

__all__ = [
    "NotReproduced",
    "ReproResult",
    "check_arguments",
    "repro_command",
    "repro_commands",
    "reproduce",
]
