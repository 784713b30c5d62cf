"""The executor: sandboxed runs of generated programs against their unit tests, giving verdicts and executed lines.

Verdicts only: the reward of a verdict is ``stepcoder_lib.method.reward``. See ``pool`` (the
Executor and batch API), ``harness`` (what runs in the sandbox), ``sandbox`` (the isolation
layers), ``compare`` (output comparison rules), ``judge`` (verdicts), ``verdicts`` (the result
records) and ``testcases`` (the normalised unit-test form every data loader produces). May import
``settings`` only; ``data`` imports the executor, never the reverse.

Names are imported lazily: sandbox workers import this package too, and every module they do
not need makes each of their forks slower.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CompareConfig": "compare", "compare_stdout": "compare", "compare_value": "compare",
    "Executor": "pool", "ExecutorConfig": "pool", "Job": "pool", "run_program": "pool", "shared_executor": "pool",
    "ExecutionResult": "verdicts", "TestResult": "verdicts", "Verdict": "verdicts", "TestCases": "testcases",
    "InvalidTestCases": "testcases",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
