"""A handful of problems to show CCCS and FGO on, from the best source at hand.

In order: a cleaned APPS+ file (notebook 01's ``apps_plus.jsonl``), a user's APPS source, real
APPS from ``realdata_dir()/apps_train5``, else the synthetic dataset. Raw APPS is not cleaned
here: the canonical solution is its first solution that parses (APPS train5's first solutions
pass their tests). Synthetic problems use their clean reference solution.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import Any

from stepcoder_lib.data.apps import load_apps, load_apps_plus
from stepcoder_lib.data.problem import Problem
from stepcoder_lib.data.synthetic import generate_problems, to_problem
from stepcoder_lib.settings.paths import realdata_dir, repo_root


def _resolve(p: str | Path) -> Path:
    path = Path(p).expanduser()
    return (path if path.is_absolute() else repo_root() / path).resolve()


def _parses(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            ast.parse(source)
    except SyntaxError:
        return False
    return True


def demo_problems(apps_path: str | Path | None = None, use_realdata: bool = True, n: int = 8, seed: int = 0,
                  apps_plus: str | Path | None = None) -> tuple[list[Problem], str]:
    """Up to ``n`` problems with a canonical solution and tests, and a line saying where they came from."""
    if apps_plus:
        plus = [p for p in load_apps_plus(_resolve(apps_plus)) if p.canonical_solution][:n]
        if plus:
            return plus, f"APPS+ ({_resolve(apps_plus)})"
    candidates = [_resolve(apps_path)] if apps_path else []
    if use_realdata:
        candidates.append(realdata_dir() / "apps_train5")
    for path in candidates:
        if not path.exists():
            continue
        out: list[Problem] = []
        for p in load_apps(path, errors="warn"):
            first = next((s for s in p.solutions if _parses(s)), None)
            if first is not None and len(p.tests):
                out.append(p.replace(canonical_solution=first))
            if len(out) >= n:
                break
        if out:
            return out, f"APPS ({path})"

    records: list[Any] = [d for d in generate_problems(n_train=max(n * 2, 4), n_test=0, seed=seed)
                          if d["defect"] == "clean"]
    return [to_problem(d) for d in records[:n]], f"synthetic dataset (seed {seed})"
