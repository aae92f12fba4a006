"""The key reference of docs/config.md, generated from the pydantic models.

``python -m shadow.config.doc`` rewrites the table between the markers of docs/config.md;
tests/unit/test_config.py fails when the committed table differs from the generated one, so the
documentation cannot drift from the defaults or miss a key.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from shadow.config.effective import LEAF_KEYS, load_config, render_value
from shadow.config.schema import ShadowConfig

BEGIN = "<!-- BEGIN generated key table: python -m shadow.config.doc -->"
END = "<!-- END generated key table -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def descriptions() -> dict[str, str]:
    """Every leaf key to its field description (empty when a field has none)."""
    found: dict[str, str] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = f"{prefix}{info.alias or name}"
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, key + ".")
            else:
                text = info.description or ""
                if typing.get_origin(annotation) is Literal:
                    text += f" (one of: {', '.join(map(str, typing.get_args(annotation)))})"
                found[key] = text

    walk(ShadowConfig, "")
    return found


def key_table() -> str:
    """The Markdown table: key, default, meaning; one row per leaf key, sorted."""
    defaults = load_config(None, []).flat()
    meaning = descriptions()
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in LEAF_KEYS:
        default = render_value(defaults[key]).replace("|", "\\|")
        rows.append(f"| `{key}` | `{default}` | {meaning[key].replace('|', chr(92) + '|')} |")
    return "\n".join(rows)


def render_doc(text: str) -> str:
    """``text`` (docs/config.md) with the generated table put between the markers."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{key_table()}\n{END}{tail}"


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        sys.exit(f"{DOC}: the markers are missing")
    DOC.write_text(render_doc(text), encoding="utf-8")


if __name__ == "__main__":
    main()
