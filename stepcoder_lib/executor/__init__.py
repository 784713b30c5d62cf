"""Sandboxed execution of generated programs: verdicts, the paper's reward, executed lines.

See ``pool`` (the Executor and batch API), ``harness`` (what runs in the sandbox), ``sandbox``
(the isolation layers), ``compare`` (output comparison rules) and ``judge`` (verdicts).

Names are imported lazily: sandbox workers import this package too, and every module they do
not need makes each of their forks slower.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CompareConfig": "compare", "compare_stdout": "compare", "compare_value": "compare",
    "Executor": "pool", "ExecutorConfig": "pool", "Job": "pool", "run_program": "pool", "shared_executor": "pool",
    "ExecutionResult": "results", "RewardTable": "results", "TestResult": "results", "Verdict": "results",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
