"""The layering of architecture.md, enforced: a test fails when an import points the wrong way."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shadow", "legacy_models", "unified", "reports")
STDLIB = sys.stdlib_module_names


def imports_of(path: Path) -> set[str]:
    """Top-level and dotted names a module imports (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def third_party(name: str) -> bool:
    top = name.split(".")[0]
    return top not in STDLIB and top not in PACKAGES and top != "__future__"


@pytest.mark.parametrize("path", modules("shadow/kernel"), ids=lambda p: p.name)
def test_the_kernel_uses_the_standard_library_only(path: Path) -> None:
    for name in imports_of(path):
        assert not third_party(name), f"{path.name} imports {name}"
        assert not name.startswith(("shadow.", "legacy_models", "unified", "reports")) or (
            name.startswith("shadow.kernel")
        ), f"{path.name} imports {name}"


@pytest.mark.parametrize(
    "path", [*modules("legacy_models"), *modules("unified")], ids=lambda p: p.name
)
def test_models_import_only_the_kernel_and_the_environment(path: Path) -> None:
    own = path.relative_to(ROOT).parts[0]
    allowed = ("shadow.kernel", "shadow.environment", own)
    for name in imports_of(path):
        if name.split(".")[0] in STDLIB or name == "__future__":
            continue
        assert name.startswith(allowed), f"{path.relative_to(ROOT)} imports {name}"


def test_only_arms_names_the_model_classes() -> None:
    offenders = []
    for path in modules("shadow") + modules("reports"):
        for name in imports_of(path):
            if name.startswith(("legacy_models", "unified")) and path.name != "arms.py":
                if ".settings" in name and path.name in ("config.py", "config_schema.py"):
                    continue  # config builds the models' settings dataclasses
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_rich_and_typer_live_in_the_cli_only() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("shadow") + modules("reports")
        for name in imports_of(path)
        if name.split(".")[0] in ("rich", "typer", "click") and path.name != "cli.py"
    ]
    assert offenders == []


def test_the_gate_is_pure() -> None:
    path = ROOT / "shadow" / "gate.py"
    if not path.exists():
        pytest.fail("shadow/gate.py is missing")
    banned = {"pathlib", "os", "io", "shutil", "pandas", "pyarrow", "subprocess", "tempfile"}
    found = {name.split(".")[0] for name in imports_of(path)} & banned
    assert found == set(), f"gate.py must not do I/O: imports {sorted(found)}"


def test_nothing_outside_compare_and_reports_pulls_pandas_into_the_models_or_runner() -> None:
    for relative in (
        "shadow/runner.py",
        "shadow/simulate.py",
        "shadow/arms.py",
        "shadow/environment.py",
    ):
        names = {n.split(".")[0] for n in imports_of(ROOT / relative)}
        assert "pandas" not in names, f"{relative} imports pandas"


def compiled_modules() -> list[str]:
    """setup.py's ``COMPILED`` list: what ``SHADOW_COMPILE=1`` turns into C extensions."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED":
            return [str(ast.literal_eval(element)) for element in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError("setup.py has no COMPILED list")


def test_the_compiled_core_imports_only_itself_and_the_standard_library() -> None:
    compiled = compiled_modules()
    names = {p.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for p in compiled}
    assert {"shadow.kernel.core", "shadow.environment", "legacy_models.chain"} <= names
    core = ("shadow.kernel", "shadow.environment", "legacy_models", "unified")
    for relative in compiled:
        for name in imports_of(ROOT / relative):
            assert not third_party(name), f"{relative} imports {name}"
            assert name.split(".")[0] not in PACKAGES or name.startswith(core), (
                f"{relative} imports {name}"
            )
