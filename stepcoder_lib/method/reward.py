"""The paper's reward (Eq. 3), the one place a verdict becomes a number.

The executor returns verdicts only; rollouts (``training.rollout``), evaluation records
(``results.evaluation``) and the tests all turn a verdict into a reward here:

    r = +1 (all tests pass), -0.3 (wrong answer), -0.6 (runtime error), -1 (compile error).

Timeouts and memory overruns count as runtime errors unless the table says otherwise; unjudged
verdicts (our data was bad, or the judge failed) have no reward.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepcoder_lib.executor.verdicts import Verdict


@dataclass(frozen=True)
class RewardTable:
    """The paper's Eq. 3 (+1 / -0.3 / -0.6 / -1); timeouts and memory count as runtime errors."""

    passed: float = 1.0
    wrong_answer: float = -0.3
    runtime_error: float = -0.6
    compile_error: float = -1.0
    timeout: float | None = None  # None: same as runtime_error
    memory_exceeded: float | None = None  # None: same as runtime_error

    def __call__(self, verdict: Verdict) -> float | None:
        if verdict == Verdict.PASSED:
            return self.passed
        if verdict == Verdict.WRONG_ANSWER:
            return self.wrong_answer
        if verdict == Verdict.COMPILE_ERROR:
            return self.compile_error
        if verdict == Verdict.TIMEOUT:
            return self.runtime_error if self.timeout is None else self.timeout
        if verdict == Verdict.MEMORY_EXCEEDED:
            return self.runtime_error if self.memory_exceeded is None else self.memory_exceeded
        if verdict == Verdict.RUNTIME_ERROR:
            return self.runtime_error
        return None  # INVALID_JOB / JUDGE_ERROR / NOT_RUN carry no reward


#: The paper's reward table (Eq. 3), the default everywhere.
PAPER_REWARD = RewardTable()


def reward_of(verdict: Verdict, table: RewardTable = PAPER_REWARD) -> float:
    """Eq. 3 of the paper from the verdict (+1 / -0.3 / -0.6 / -1; timeouts count as runtime errors).

    Unjudged verdicts (INVALID_JOB: our data; JUDGE_ERROR: the judge) have no reward; they get 0.0
    and are kept out of the loss (``Rollout.trainable``). ``table(verdict)`` keeps them as None.
    """
    value = table(verdict)
    return 0.0 if value is None else float(value)
