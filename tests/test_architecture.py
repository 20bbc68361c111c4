"""The layout a newcomer can hold in their head: short modules and functions, no import cycles,
and models chosen by capability (the registry), never by comparing their names."""

import ast
import subprocess
import sys
from pathlib import Path

from dynaworld.registry import MODELS

PACKAGE = Path(__file__).resolve().parents[1] / "dynaworld"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 65  # the "~60"


def modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        name = ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def test_no_module_or_function_is_too_long():
    long_modules = {n: len(p.read_text().splitlines()) for n, p in modules().items()}
    assert {n: k for n, k in long_modules.items() if k > MAX_MODULE_LINES} == {}
    long_functions = []
    for name, p in modules().items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name} ({n} lines)")
    assert long_functions == []


def import_graph(mods: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the dynaworld modules it imports, at top level or inside functions (a name read
    from a parent package counts as an import of that package)."""
    mods = mods if mods is not None else modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{a.name}" for a in node.names]
                # a name that is no submodule is read from the package itself, a parent included
                names = [s if s in mods else node.module for s in subs]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            graph[m] |= {n for n in names if n in mods and n != m}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_there_are_no_import_cycles():
    assert cycles(import_graph()) == []
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]  # the check itself works


# The layers, lowest first, and the folders that show them: dynaworld/ itself holds the core and
# the run machinery with their foundation, studies/ the reporting (sweeps, statistics, charts, the
# papers' reproductions), cli/ the interface. A module imports its own layer's modules and lower
# layers', never a higher one's (reporting reads what runs wrote; training never draws a report).
LAYERS = {
    "foundation": ["errors", "types", "version", "argtypes", "imports", "device", "plain", "files",
                   "checkpoint", "runlog", "progress"],
    "core": ["config", "shipped", "loop", "episodes", "planning", "replay", "registry", "agents",
             "models", "envs"],
    "run": ["training", "resume", "rundir", "build", "seeds", "datasets", "evaluate", "watch",
            "callbacks", "interrupt", "parallel", "plots", "worldmodels"],
    "reporting": ["studies"],
    "interface": ["", "api", "cli"],
}  # fmt: skip


def layer(module: str) -> int | None:
    """The layer of ``module``: that of the longest entry naming it or a package above it."""
    rest = module.removeprefix("dynaworld").removeprefix(".")
    found = [(len(p), i) for i, ps in enumerate(LAYERS.values()) for p in ps
             if rest == p or (p and rest.startswith(p + "."))]  # fmt: skip
    return max(found)[1] if found else None


def upward(graph: dict[str, set[str]]) -> list[str]:
    names = list(LAYERS)
    return sorted(f"{m} ({names[layer(m)]}) imports {d} ({names[layer(d)]})"
                  for m, deps in graph.items() for d in deps if layer(d) > layer(m))  # fmt: skip


def test_every_module_has_a_layer_and_imports_only_its_own_or_lower_layers():
    graph = import_graph()
    assert [m for m in graph if layer(m) is None] == []
    assert upward(graph) == []
    # the check itself works: a training module drawing a report's chart is caught
    assert upward({"dynaworld.training": {"dynaworld.studies.charts"}}) == [
        "dynaworld.training (run) imports dynaworld.studies.charts (reporting)"
    ]
    top = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists() or p.name == "worldmodels"}  # fmt: skip
    assert {"studies", "cli", "loop", "worldmodels"} <= top and "experiments" not in top


def test_no_two_modules_share_a_name():
    names = [p.stem for p in PACKAGE.rglob("*.py") if p.stem not in ("__init__", "__main__")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_the_import_graph_sees_names_read_from_a_parent_package(tmp_path):
    (tmp_path / "m.py").write_text("from dynaworld import __version__\nfrom dynaworld import api\n")
    graph = import_graph({"dynaworld.m": tmp_path / "m.py", "dynaworld": PACKAGE / "__init__.py",
                          "dynaworld.api": PACKAGE / "api.py"})  # fmt: skip
    assert graph["dynaworld.m"] == {"dynaworld", "dynaworld.api"}


def test_no_model_is_chosen_by_comparing_its_name_outside_the_registry():
    names = set(MODELS) - {"none"}  # also a value of ModelSpec.plan
    found = []
    for name, p in modules().items():
        if name == "dynaworld.registry":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            consts = [c for c in [node.left, *node.comparators] for c in ast.walk(c)]
            strings = {c.value for c in consts if isinstance(c, ast.Constant)}
            text = ast.unparse(node)
            if strings & names and "model" in text:
                found.append(f"{name}:{node.lineno}: {text}")
    assert found == []


# imported where they are used: optional extras, emulators, and plotting (slow to import)
DEFERRED = {"ale_py", "cma", "envpool", "matplotlib", "minatar", "ray", "vizdoom"}


def test_imports_inside_functions_are_only_of_optional_or_slow_packages():
    found = []
    for name, p in modules().items():
        for fn in ast.walk(ast.parse(p.read_text())):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.module:
                    tops = {node.module.split(".")[0]}
                elif isinstance(node, ast.Import):
                    tops = {a.name.split(".")[0] for a in node.names}
                else:
                    continue
                if tops - DEFERRED and not (name == "dynaworld" and fn.name == "__getattr__"):
                    found.append(f"{name}.{fn.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []  # (dynaworld.__getattr__ is the lazy API of PEP 562)


def test_train_and_eval_commands_import_no_statistics_charts_or_extras():
    """A newcomer's first ``dynaworld train`` compiles and imports only what training needs."""
    heavy = ("scipy", "matplotlib", "ray", "cma", "vizdoom", "envpool", "gpytorch")
    code = f"import sys, dynaworld.cli.commands; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
