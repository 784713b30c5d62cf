"""The synthetic APPS-format dataset: the ``tiny`` and ``smoke`` profiles' problems, made offline.

* ``generate`` problems from a seed, APPS folders + ``truth.json``, statistics (``generate_benchmark``).
* ``compose``  the logic of a problem: a composition of blocks, its code and an in-process runner.
* ``text``     the statement's wording.
* ``defects``  the injected defects that the APPS+ cleaning must catch.

``to_problem`` turns a generated record into the project's ``Problem`` (its clean reference
solution as the canonical one), for code that wants problems without cleaning them first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.data.synthetic.generate import (
    SIZES,
    benchmark_stats,
    generate_benchmark,
    generate_problems,
    load_truth,
    truth_by_problem_id,
)
from stepcoder_lib.executor.testcases import TestCases

__all__ = [
    "SIZES",
    "benchmark_stats",
    "generate_benchmark",
    "generate_problems",
    "load_truth",
    "to_problem",
    "truth_by_problem_id",
]


def to_problem(record: Mapping[str, Any], source: str = "bench") -> Problem:
    """A generated record as a ``Problem`` with its clean tests and reference solution (defects ignored)."""
    fmt: Literal["stdin", "call"] = "stdin" if record["format"] == "stdin" else "call"
    tests = TestCases(fmt, tuple(record["tests"]["inputs"]), tuple(record["tests"]["outputs"]), record["fn_name"])
    return Problem(
        id=f"{source}/{record['split']}/{record['id']}",
        source=source,
        difficulty=record["difficulty"],
        statement=record["question"],
        tests=tests,
        starter_code=record["starter_code"],
        solutions=(record["reference_solution"],),
        canonical_solution=record["reference_solution"],
        split=record["split"],
    )
