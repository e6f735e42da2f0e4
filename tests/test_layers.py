"""The code's shape: layers point one way, zoo/ has no import cycle, every fact has one owner, and every
third-party import is a declared dependency. Read from the source with ast, so nothing here runs the code."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("zoo", "tasks", "webapp")  # what the installed package and the app import at run time
OWN = {"zoo", "tasks", "webapp", "train", "app", "bench", "tests", "conftest"}


def modules(package: str) -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in sorted((ROOT / package).rglob("*.py"))}


def imports(name: str, path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function, as absolute dotted names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from . import hub` imports zoo.hub
    return found


def test_zoo_imports_nothing_from_tasks_train_or_the_app():
    for name, path in modules("zoo").items():
        upper = sorted(m for m in imports(name, path) if m.split(".")[0] in ("tasks", "train", "webapp", "app"))
        assert not upper, f"{path.relative_to(ROOT)} imports {upper}"


def test_zoo_names_task_modules_only_in_the_task_table():
    """A module named in a string (importlib.import_module("tasks.ner")) is an import the test above cannot see:
    the only such names in zoo/ are the task table's, the one place a task is registered."""
    upper = re.compile(r"""["'](tasks|train|webapp|app)(\.[A-Za-z_]\w*)+["']""")  # dotted: "train" is a split
    for name, path in modules("zoo").items():
        strings = [n.value for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                   if isinstance(n, ast.Constant) and isinstance(n.value, str) and upper.fullmatch(repr(n.value))]
        if name == "zoo.task_table":
            assert strings and all(s.startswith("tasks.") for s in strings)
        else:
            assert not strings, f"{path.relative_to(ROOT)} names {strings}"


def test_zoo_has_no_import_cycle():
    mods = modules("zoo")
    graph = {n: {m for m in imports(n, p) if m in mods and m != n and m != "zoo"} for n, p in mods.items()}
    state: dict[str, int] = {}

    def visit(n, trail):
        state[n] = 1
        for m in graph[n]:
            assert state.get(m) != 1, "import cycle: " + " -> ".join([*trail, n, m])
            if m not in state:
                visit(m, [*trail, n])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [])


def test_every_third_party_import_is_a_declared_dependency():
    """Declared as a dependency, or in an optional extra other than the tests' (ONNX: zoo/onnx_run.py names
    the extra when it is missing)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [d for name, deps in project.get("optional-dependencies", {}).items() if name != "test" for d in deps]
    declared = project["dependencies"] + extras
    declared = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower().replace("_", "-") for d in declared}
    dists = importlib.metadata.packages_distributions()
    files = {n: p for pkg in SHIPPED for n, p in modules(pkg).items()} | {"app": ROOT / "app.py"}
    for name, path in files.items():
        for mod in imports(name, path):
            top = mod.split(".")[0]
            if not top or top in sys.stdlib_module_names or top in OWN or top == "__future__":
                continue
            names = {d.lower().replace("_", "-") for d in dists.get(top, [top])}
            assert names & declared, f"{path.relative_to(ROOT)} imports {top} ({', '.join(names)}), not in pyproject.toml"


def test_architectures_and_tasks_are_each_defined_once():
    code = [p for pkg in ("zoo", "tasks", "webapp", "train") for p in (ROOT / pkg).rglob("*.py")] + [ROOT / "app.py"]
    for pattern in (r"^\s*ARCHS\s*=", r"^\s*ARCH_NAMES\s*=", r"^\s*TASKS\s*="):
        owners = [str(p.relative_to(ROOT)) for p in code for line in p.read_text().splitlines() if re.match(pattern, line)]
        assert len(owners) == 1, (pattern, owners)
