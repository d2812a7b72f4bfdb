"""The package's structure: no import cycle inside ``digitsx.models`` (function-local imports
count: they only hide a cycle), and the warm inference worker does not load the trainer."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import digitsx

ROOT = Path(digitsx.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every digitsx module ``path`` imports, anywhere in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def graph(prefix: str) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m.startswith(prefix) and m != name}
            for name, path in modules.items() if name.startswith(prefix)}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_in_models():
    edges = graph("digitsx.models.")
    edges = {k: {m for m in v if m != "digitsx.models"} for k, v in edges.items()}
    assert cycles(edges) == []
    # The finder finds one when there is one.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_inference_worker_does_not_load_the_trainer():
    code = "import sys, digitsx.classification.infer; print('digitsx.classification.train' in sys.modules)"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "False"


TASKS = ("classification", "detection", "segmentation")  # the task packages
COMPOSITION = {"digitsx", "digitsx.app", "digitsx.cli", "digitsx.server"}  # wire the tasks in


def layer_violations() -> list[str]:
    """A task package importing another task package, or anything below the task packages
    (the engine, jobs, shared dataset and model layers, web helpers) importing one."""
    found = []
    for name, targets in graph("digitsx").items():
        mine = next((t for t in TASKS if name.startswith(f"digitsx.{t}")), None)
        for target in sorted(targets):
            task = next((t for t in TASKS if target == f"digitsx.{t}" or target.startswith(f"digitsx.{t}.")), None)
            if task is None or task == mine or name in COMPOSITION:
                continue
            found.append(f"{name} imports {target}")
    return found


def test_task_packages_stand_side_by_side_on_the_shared_layers():
    assert layer_violations() == []


def test_the_layer_walk_sees_function_local_imports(tmp_path):
    source = "def f():\n    from ..detection import build\n"
    path = ROOT / "models" / "_layer_probe.py"
    path.write_text(source)
    try:
        assert "digitsx.models._layer_probe imports digitsx.detection.build" in layer_violations()
    finally:
        path.unlink()
