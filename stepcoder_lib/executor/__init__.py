"""Sandboxed execution of generated programs: verdicts, the paper's reward, executed lines.

See ``pool`` (the Executor and batch API), ``harness`` (what runs in the sandbox), ``sandbox``
(the isolation layers), ``compare`` (output comparison rules) and ``judge`` (verdicts).
"""

from .compare import CompareConfig, compare_stdout, compare_value
from .pool import Executor, ExecutorConfig, Job, run_program, shared_executor
from .results import ExecutionResult, RewardTable, TestResult, Verdict

__all__ = [
    "CompareConfig", "ExecutionResult", "Executor", "ExecutorConfig", "Job", "RewardTable", "TestResult",
    "Verdict", "compare_stdout", "compare_value", "run_program", "shared_executor",
]
