"""Verdicts and the result records the executor returns (the reward of a verdict is ``stepcoder_lib.method.reward``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(str, Enum):  # noqa: UP042 - the public results API stays as it is
    """Outcome of a program (or of one test). ``INVALID_JOB`` means the job itself was malformed,
    ``JUDGE_ERROR`` that the executor failed to judge it; neither carries a reward (``method.reward``)."""

    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    COMPILE_ERROR = "compile_error"
    NOT_RUN = "not_run"  # a test skipped because the program's verdict was already settled
    INVALID_JOB = "invalid_job"
    JUDGE_ERROR = "judge_error"  # the executor could not judge this job (its ``error`` says why); no reward

    def __str__(self) -> str:  # print as the plain value
        return self.value


#: Failures that count as runtime errors (the most severe verdict among them is the first in test order).
RUNTIME_FAMILY = frozenset({Verdict.RUNTIME_ERROR, Verdict.TIMEOUT, Verdict.MEMORY_EXCEEDED})


@dataclass(frozen=True)
class TestResult:
    """One unit test: what happened, how long it took, and which comparison rule accepted it."""

    index: int
    verdict: Verdict
    duration_s: float = 0.0  # wall time of the test's process
    cpu_s: float = 0.0  # user + system CPU time of the test's process
    max_rss_kb: int = 0
    rule: str | None = None  # comparison rule that accepted the output (passed tests only)
    error_type: str | None = None  # e.g. "ZeroDivisionError", "ModuleNotFoundError", "SyntaxError"
    detail: str = ""  # one human-readable line: exception message, limit hit, mismatch
    stdout: str = ""  # bounded excerpt
    stderr: str = ""  # bounded excerpt
    lines: frozenset[int] = frozenset()  # executed 1-based lines of the program (coverage on)

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASSED


@dataclass(frozen=True)
class ExecutionResult:
    """A program judged against all its tests.

    ``verdict`` is the most severe test verdict (compile error, then the runtime family in test
    order, then wrong answer); ``passed`` holds only when every test ran to completion and passed.
    """

    problem_id: str
    verdict: Verdict
    tests: tuple[TestResult, ...] = ()
    executed_lines: frozenset[int] = frozenset()  # union of tests' lines (coverage on)
    coverage: bool = False
    error: str | None = None  # for INVALID_JOB and compile errors: names the item and field
    duration_s: float = 0.0
    sandbox: tuple[str, ...] = field(default=(), compare=False)

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASSED

    @property
    def n_passed(self) -> int:
        return sum(t.passed for t in self.tests)

    def summary(self) -> str:
        head = f"{self.problem_id or '<job>'}: {self.verdict.value} ({self.n_passed}/{len(self.tests)} tests)"
        first_bad = next((t for t in self.tests if not t.passed and t.verdict != Verdict.NOT_RUN), None)
        if self.error:
            return f"{head}: {self.error}"
        if first_bad is not None:
            return f"{head}: test {first_bad.index}: {first_bad.detail}"
        return head
