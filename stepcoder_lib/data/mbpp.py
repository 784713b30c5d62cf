"""MBPP loaders: ``mbpp.jsonl`` (974 tasks) and ``sanitized-mbpp.json`` (427), local or hub.

Each task becomes an ``assert``-format Problem: the program is the task's code, every entry of
``test_list`` is one test (an ``assert`` line run after the program), and ``test_setup_code``
(full) / ``test_imports`` (sanitized) runs before the program. ``challenge_test_list`` (full
only, harder extra asserts) is appended when ``include_challenge=True``. Code is newline-
normalised (MBPP's code uses ``\\r\\n``). Ids: ``mbpp/<task_id>``, ``mbpp-sanitized/<task_id>``;
difficulty ``mbpp``; ``metadata["mbpp_split"]`` is the upstream split by task id (1-10 prompt,
11-510 test, 511-600 validation, 601-974 train).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stepcoder_lib.data.apps import normalise_newlines
from stepcoder_lib.data.conditionals import extract_conditionals
from stepcoder_lib.data.loaders import load_hub_dataset, missing_local
from stepcoder_lib.data.problem import DataError, Problem, iter_jsonl
from stepcoder_lib.executor.testcases import TestCases

MBPP_HUB_ID = "google-research-datasets/mbpp"
_FILES = {"full": "mbpp.jsonl", "sanitized": "sanitized-mbpp.json"}


def _hint(variant: str) -> str:
    return f"pass path=/path/to/{_FILES[variant]} (from the google-research/mbpp repository)"


def mbpp_split(task_id: int) -> str:
    """Upstream MBPP split of a task id."""
    if task_id <= 10:
        return "prompt"
    if task_id <= 510:
        return "test"
    if task_id <= 600:
        return "validation"
    return "train"


def mbpp_row_to_problem(row: Mapping[str, Any], variant: str = "full", include_challenge: bool = False) -> Problem:
    """One MBPP row (either variant) as a Problem; DataError names the task and field."""
    tid = row.get("task_id")
    pid = f"{'mbpp' if variant == 'full' else 'mbpp-sanitized'}/{tid}"
    text_field = "text" if variant == "full" else "prompt"
    for name in ("task_id", text_field, "code", "test_list"):
        if row.get(name) in (None, "", []):
            raise DataError(f"MBPP task {pid}: field '{name}' is missing or empty")
    tests = list(row["test_list"])
    if include_challenge and variant == "full":
        tests += list(row.get("challenge_test_list") or [])
    if variant == "full":
        setup = row.get("test_setup_code") or ""
    else:
        setup = "\n".join(row.get("test_imports") or [])
    if not all(isinstance(t, str) for t in tests):
        raise DataError(f"MBPP task {pid}: field 'test_list': every test must be code (a string)")
    code = normalise_newlines(str(row["code"]))
    task_id = int(row["task_id"])
    meta: dict[str, Any] = {"task_id": task_id, "mbpp_split": mbpp_split(task_id)}
    if variant == "sanitized" and row.get("source_file"):
        meta["source_file"] = row["source_file"]
    if include_challenge and row.get("challenge_test_list"):
        meta["challenge_tests"] = len(row["challenge_test_list"])
    problem = Problem(
        id=pid, source="mbpp" if variant == "full" else "mbpp-sanitized", difficulty="mbpp",
        statement=normalise_newlines(str(row[text_field])),
        tests=TestCases("assert", tuple(normalise_newlines(t) for t in tests), (),
                        setup_code=normalise_newlines(setup)),
        starter_code="", solutions=(code,), canonical_solution=code, split="", metadata=meta,
    )
    return _with_conditionals(problem)


def _with_conditionals(problem: Problem) -> Problem:
    try:
        return problem.replace(conditionals=tuple(extract_conditionals(problem.canonical_solution or "")))
    except SyntaxError:
        return problem


def _rows_from_file(path: Path, variant: str) -> Iterable[tuple[str, Any]]:
    if path.suffix == ".jsonl":
        for lineno, obj in iter_jsonl(path):
            yield f"{path.name}:{lineno}", obj
        return
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of MBPP tasks")
    for i, obj in enumerate(data):
        yield f"{path.name}[{i}]", obj


def load_mbpp(path: str | Path | None = None, variant: str | None = None, *, include_challenge: bool = False,
              split: str | None = None, hub_id: str = MBPP_HUB_ID, errors: str = "raise") -> list[Problem]:
    """MBPP as Problems, sorted by task id.

    ``path``: ``mbpp.jsonl``, ``sanitized-mbpp.json``, or a folder holding them (``variant`` picks
    one; from a file it is inferred). ``path=None`` tries the hub (``hub_id``, config ``full`` /
    ``sanitized``, all splits). ``split`` keeps one upstream split (see ``mbpp_split``). A bad task is
    skipped and, after all are read, reported: ``errors="raise"`` raises, ``"warn"`` warns.
    """
    if path is not None:
        path = Path(path).expanduser()
        if path.is_dir():
            variant = variant or "full"
            path = path / _FILES[variant]
        variant = variant or ("sanitized" if "sanitized" in path.name else "full")
        if variant not in _FILES:
            raise ValueError(f"variant must be 'full' or 'sanitized', got {variant!r}")
        if not path.is_file():
            raise missing_local(f"MBPP ({variant})", path, _hint(variant))
        rows: Iterable[tuple[str, Any]] = _rows_from_file(path, variant)
    else:
        variant = variant or "full"
        if variant not in _FILES:
            raise ValueError(f"variant must be 'full' or 'sanitized', got {variant!r}")
        ds = load_hub_dataset(f"MBPP ({variant})", _hint(variant), hub_id, variant)
        rows = ((f"{s}[{i}]", r) for s, part in ds.items() for i, r in enumerate(part))
    problems, bad = [], []
    for where, row in rows:
        try:
            if not isinstance(row, Mapping):
                raise DataError(f"MBPP {where}: expected a JSON object")
            problems.append(mbpp_row_to_problem(row, variant, include_challenge))
        except (DataError, ValueError, TypeError) as exc:
            bad.append(f"{where}: {exc}")
    if bad:
        msg = f"{len(bad)} MBPP task(s) could not be loaded: " + "; ".join(bad[:5])
        if errors == "raise":
            raise DataError(msg)
        warnings.warn(msg, stacklevel=2)
    problems.sort(key=lambda p: p.metadata["task_id"])
    return [p for p in problems if split is None or p.metadata["mbpp_split"] == split]
