"""``shadow config show``: the effective configuration, one key a line."""

from __future__ import annotations

import sys

from shadow.cli.output import ConfigOption, JsonOption, SetOption, print_json


def config_show(
    config: ConfigOption = None,
    sets: SetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print every configuration key: `key = value  (source)`, sorted by key."""
    from shadow.config import load_config, render_value

    effective = load_config(config, sets or [])
    if as_json:
        print_json(effective.show())
        return
    lines = [
        f"{key} = {render_value(value)}  ({effective.sources[key]})"
        for key, value in effective.flat().items()
    ]
    sys.stdout.write("\n".join(lines) + "\n")
