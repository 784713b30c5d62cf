"""The layers of ``stepcoder_lib`` (pyproject's import-linter contracts) hold, and the check can fail.

results -> training -> method -> models -> data -> executor -> settings: a module imports only its
own layer or lower ones, and no modules import each other in a circle. The contracts are run by
import-linter's own command (as ``make lint`` runs it) on the checkout, then on a copy of the
package with one upward import, and on a copy with one circle, each of which must break them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
from conftest import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the ``stepcoder_lib`` found under ``root``, with the checkout's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(REPO_ROOT / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)


def copy_package(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "stepcoder_lib", tmp_path / "stepcoder_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_checkout_keeps_the_layers_and_has_no_cycles() -> None:
    proc = lint_imports(REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_no_module_reaches_back_to_a_module_that_imports_it() -> None:
    """Every direct import inside the package, checked with grimp (import-linter's graph) for a path back,
    less the imports the contracts declare as exceptions (each with its reason in pyproject.toml)."""
    graph = grimp.build_graph("stepcoder_lib", cache_dir=None)
    contracts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    for exception in {i for c in contracts for i in c.get("ignore_imports", [])}:
        importer, imported = (part.strip() for part in exception.split("->"))
        graph.remove_import(importer=importer, imported=imported)
    circles = [(a, b) for a in sorted(graph.modules) for b in sorted(graph.find_modules_directly_imported_by(a))
               if graph.find_shortest_chain(importer=b, imported=a) is not None]
    assert not circles, circles


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    root = copy_package(tmp_path)
    (root / "stepcoder_lib" / "executor" / "upward.py").write_text(
        '"""A verdict module that reaches up into training: what the layers forbid."""\n'
        "from stepcoder_lib.training import rollout  # noqa: F401\n", encoding="utf-8")
    proc = lint_imports(root)
    assert proc.returncode != 0, proc.stdout
    assert "BROKEN" in proc.stdout and "stepcoder_lib.executor.upward -> stepcoder_lib.training.rollout" in proc.stdout


def test_a_circle_breaks_the_cycle_contract(tmp_path: Path) -> None:
    root = copy_package(tmp_path)
    data = root / "stepcoder_lib" / "data"
    (data / "circle_a.py").write_text("from stepcoder_lib.data import circle_b  # noqa: F401\n", encoding="utf-8")
    (data / "circle_b.py").write_text("from stepcoder_lib.data import circle_a  # noqa: F401\n", encoding="utf-8")
    proc = lint_imports(root)
    assert proc.returncode != 0, proc.stdout
    assert "no import cycles" in proc.stdout and "1 kept, 1 broken" in proc.stdout
