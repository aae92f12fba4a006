"""The layering, enforced: the import graph (read with ``ast``, nothing imported) has no cycle,
and every import between packages points down the declared layers to a package's face.

``LAYERS`` is the one declaration of the direction, bottom first: a package may import only
packages of a lower layer (never one of its own layer but itself), and only through the
other package's face (its ``__init__``). README's Layout section shows the same list.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Bottom first. Each row is one layer; packages of one row do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("shadow.kernel",),
    ("shadow.common",),
    ("shadow.world",),
    ("legacy_models", "unified"),
    ("shadow.rollout",),
    ("shadow.config",),
    ("shadow.streams",),
    ("shadow.simulation",),
    ("shadow.prepare",),
    ("shadow.compare",),
    ("shadow.runfolder",),
    ("shadow.gate",),
    ("shadow.explain",),
    ("reports",),
    ("shadow.replay",),
    ("shadow.live", "shadow.repro"),
    ("shadow.sweep",),
    ("shadow.bench",),
    ("shadow.cli",),
)

ROOT = Path(__file__).resolve().parents[1]
TOP = ("shadow", "legacy_models", "unified", "reports")
STDLIB = sys.stdlib_module_names


# -- the checker: a graph of modules, its cycles, its upward or inner imports ------------------


@dataclass(frozen=True)
class Edge:
    source: str  # importing module, dotted
    target: str  # imported module or package, dotted


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_edges(root: Path, tops: Sequence[str]) -> list[Edge]:
    """Every import between modules of ``tops`` under ``root``, including imports inside
    functions: ``from P import name`` depends on ``P`` (its ``__init__`` runs first) and, when
    ``name`` is a submodule, on ``P.name`` as well."""
    modules = {module_name(root, path): path for top in tops for path in (root / top).rglob("*.py")}
    edges: list[Edge] = []
    for name, path in sorted(modules.items()):
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base]
                targets += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            edges += [Edge(name, t) for t in targets if t in modules and t != name]
    return edges


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def package_of(module: str, layers: Sequence[Sequence[str]]) -> str | None:
    """The declared package holding ``module`` (the longest declared prefix)."""
    best = None
    for layer in layers:
        for package in layer:
            if (module == package or module.startswith(package + ".")) and (
                best is None or len(package) > len(best)
            ):
                best = package
    return best


def violations(edges: Iterable[Edge], layers: Sequence[Sequence[str]]) -> list[str]:
    """Imports against the declared direction, and imports of another package's inner module."""
    rank = {package: level for level, layer in enumerate(layers) for package in layer}
    found = []
    for edge in edges:
        source = package_of(edge.source, layers)
        target = package_of(edge.target, layers)
        if source is None or target is None or source == target:
            continue
        if rank[target] >= rank[source]:
            found.append(f"{edge.source} imports {edge.target}: {target} is not below {source}")
        elif edge.target != target:
            found.append(f"{edge.source} imports {edge.target}: use the face {target}")
    return sorted(found)


def undeclared(root: Path, tops: Sequence[str], layers: Sequence[Sequence[str]]) -> list[str]:
    """Modules that belong to no declared package (the bare top ``__init__`` files excepted)."""
    names = {module_name(root, p) for top in tops for p in (root / top).rglob("*.py")}
    return sorted(n for n in names if n not in tops and package_of(n, layers) is None)


# -- the project ------------------------------------------------------------------------------


EDGES = import_edges(ROOT, TOP)


def test_there_is_no_import_cycle_between_modules() -> None:
    assert cycles(EDGES) == []


def test_there_is_no_import_cycle_between_packages() -> None:
    packages = [
        Edge(a, b)
        for e in EDGES
        if (a := package_of(e.source, LAYERS)) and (b := package_of(e.target, LAYERS)) and a != b
    ]
    assert cycles(packages) == []


def test_every_import_points_down_the_layers_to_a_face() -> None:
    assert violations(EDGES, LAYERS) == []


def test_every_module_belongs_to_a_declared_package() -> None:
    assert undeclared(ROOT, TOP, LAYERS) == []


def test_no_module_sits_directly_under_shadow() -> None:
    loose = sorted(p.name for p in (ROOT / "shadow").glob("*.py"))
    assert loose == ["__init__.py"] or loose == ["__init__.py", "__main__.py"]


def test_readme_layout_shows_the_declared_layers() -> None:
    """README's Layout section lists the layers top first, one line each."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = "\n".join("  ".join(layer) for layer in reversed(LAYERS))
    assert shown in readme, f"README's Layout section should hold:\n{shown}"


# -- the checker on small trees it must refuse ------------------------------------------------


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_finds_a_module_cycle(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/low/__init__.py": "from app.low.a import f\n",
            "app/low/a.py": "from app.low.b import g\ndef f(): pass\n",
            "app/low/b.py": "def g():\n    from app.low import a\n",
        },
    )
    edges = import_edges(tmp_path, ["app"])
    assert cycles(edges) == [["app.low", "app.low.a", "app.low.b"]]


def test_the_checker_finds_an_upward_import_and_an_inner_import(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/low/__init__.py": "from app.low.core import f\n",
            "app/low/core.py": "from app.high import h\ndef f(): pass\n",
            "app/high/__init__.py": "from app.high.top import h\n",
            "app/high/top.py": "from app.low.core import f\ndef h(): pass\n",
        },
    )
    layers = (("app.low",), ("app.high",))
    edges = import_edges(tmp_path, ["app"])
    assert violations(edges, layers) == [
        "app.high.top imports app.low.core: use the face app.low",
        "app.low.core imports app.high: app.high is not below app.low",
    ]
    assert cycles(edges) != []  # low -> high -> low through the faces
    assert undeclared(tmp_path, ["app"], (("app.low",),)) == ["app.high", "app.high.top"]


def test_the_checker_accepts_a_clean_tree(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/low/__init__.py": "from app.low.core import f\n",
            "app/low/core.py": "def f(): pass\n",
            "app/high/__init__.py": "from .top import h\n",
            "app/high/top.py": "from app.low import f\ndef h(): pass\n",
        },
    )
    edges = import_edges(tmp_path, ["app"])
    assert cycles(edges) == []
    assert violations(edges, (("app.low",), ("app.high",))) == []
    assert Edge("app.high", "app.high.top") in edges  # a relative import is followed


# -- rules of particular packages -------------------------------------------------------------


def imports_of(path: Path) -> set[str]:
    """Dotted names a module imports (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


#: Not counted as third party: mypyc's class attributes (``mypyc_attr``, a no-op at run time;
#: setup.py says why the compiled classes need it), the one import the core adds to the
#: standard library.
COMPILER_HINTS = "mypy_extensions"


def third_party(name: str) -> bool:
    top = name.split(".")[0]
    return top not in STDLIB and top not in TOP and top not in ("__future__", COMPILER_HINTS)


@pytest.mark.parametrize("path", modules("shadow/kernel"), ids=lambda p: p.name)
def test_the_kernel_uses_the_standard_library_only(path: Path) -> None:
    for name in imports_of(path):
        assert not third_party(name), f"{path.name} imports {name}"


@pytest.mark.parametrize(
    "path", [*modules("legacy_models"), *modules("unified")], ids=lambda p: p.name
)
def test_models_import_only_the_kernel_and_the_world(path: Path) -> None:
    own = path.relative_to(ROOT).parts[0]
    allowed = ("shadow.kernel", "shadow.world", own)
    for name in imports_of(path):
        if name.split(".")[0] in STDLIB or name in ("__future__", COMPILER_HINTS):
            continue
        assert name.startswith(allowed), f"{path.relative_to(ROOT)} imports {name}"


def test_only_the_arm_registry_names_the_model_classes() -> None:
    """Config builds the models' settings dataclasses; only ``simulation.arms`` names a model."""
    offenders = []
    for path in modules("shadow") + modules("reports"):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "shadow/simulation/arms.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                named = [(a.name, "*") for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                named = [(node.module, a.name) for a in node.names]
            else:
                continue
            for module, name in named:
                if module.split(".")[0] not in ("legacy_models", "unified"):
                    continue
                if relative.startswith("shadow/config/") and name.endswith("Settings"):
                    continue
                offenders.append(f"{relative} imports {name} from {module}")
    assert offenders == []


def test_rich_and_typer_live_in_the_cli_only() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("shadow") + modules("reports")
        for name in imports_of(path)
        if name.split(".")[0] in ("rich", "typer", "click")
        and not path.relative_to(ROOT).as_posix().startswith("shadow/cli/")
    ]
    assert offenders == []


def test_the_verdict_is_pure() -> None:
    banned = {"pathlib", "os", "io", "shutil", "pandas", "pyarrow", "subprocess", "tempfile"}
    for name in ("verdict.py", "checks.py", "stats.py", "waivers.py", "policy.py"):
        found = {n.split(".")[0] for n in imports_of(ROOT / "shadow" / "gate" / name)} & banned
        assert found == set(), f"shadow/gate/{name} must not do I/O: imports {sorted(found)}"


def test_the_compiled_core_faces_pull_in_neither_pandas_nor_pyarrow() -> None:
    """The compiled core is imported through the kernel's and the world's faces: they stay light."""
    code = (
        "import sys, shadow.world, shadow.kernel, legacy_models, unified;"
        "print(sorted({'pandas', 'pyarrow', 'pydantic'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def compiled_modules() -> list[str]:
    """setup.py's ``COMPILED`` list: what ``SHADOW_COMPILE=1`` turns into C extensions."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED":
            return [str(ast.literal_eval(element)) for element in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError("setup.py has no COMPILED list")


def test_the_compiled_core_imports_only_itself_and_the_standard_library() -> None:
    compiled = compiled_modules()
    assert all((ROOT / relative).is_file() for relative in compiled)
    names = {p.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for p in compiled}
    assert {"shadow.kernel.core", "shadow.world.environment", "legacy_models.chain"} <= names
    core = ("shadow.kernel", "shadow.world", "legacy_models", "unified")
    for relative in compiled:
        for name in imports_of(ROOT / relative):
            assert not third_party(name), f"{relative} imports {name}"
            assert name.split(".")[0] not in TOP or name.startswith(core), (
                f"{relative} imports {name}"
            )
