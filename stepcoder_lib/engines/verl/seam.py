"""The one place this package touches ``training.rollout``: staging prompts, judging, the curriculum update.

verl's agent loop and manager call only these functions, so a change of the rollout seam is a
change here. Staging is ``rollout.StagePrompts`` (token-aligned CCCS prompts: ids that are a
prefix of the joint tokenisation of task prompt + canonical solution); judging is
``rollout.judge_rollouts`` (program extraction, executor, Eq. 3 reward, FGO mask), one rollout at
a time (the agent loop judges each completion as it arrives); the curriculum update is
``rollout.update_curriculum``. The native trainers run the same functions in ``collect_rollouts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.executor import Executor, Verdict
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.method.reward import PAPER_REWARD, RewardTable
from stepcoder_lib.training.rollout import (
    UNJUDGED,
    StagedPrompt,
    StagePrompts,
    Summary,
    judge_rollouts,
    update_curriculum,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Judged:
    """One completion, judged: what the agent loop returns to verl as its reward and extra fields."""

    problem_id: str
    stage: int
    verdict: Verdict
    reward: float  # Eq. 3 of the verdict (0.0 when unjudged, which stays out of the loss)
    mask: tuple[int, ...]  # FGO mask, one entry per completion id (all ones with FGO off, zeros when unjudged)
    program: str

    @property
    def trainable(self) -> bool:
        return self.verdict not in UNJUDGED


def stager(tokenizer: PreTrainedTokenizerBase, task_prompts: Mapping[str, str],
           curriculum: Curriculum | None) -> StagePrompts:
    """The prompt builder of a run (``curriculum=None``: CCCS off, the plain task at stage 0); it caches each
    (problem, stage)'s ids, so keep one per run."""
    return StagePrompts(tokenizer, task_prompts, curriculum)


def stage(prompts: StagePrompts, problem_ids: Sequence[str]) -> list[StagedPrompt]:
    """Each problem's prompt at its current stage, as token ids."""
    return prompts(list(problem_ids))


def judge_completion(tokenizer: PreTrainedTokenizerBase, executor: Executor, problem: Problem, staged: StagedPrompt,
                     completion_ids: Sequence[int], *, fgo: bool, reward_table: RewardTable = PAPER_REWARD) -> Judged:
    """Run the program of prompt + completion on the problem's tests once; the reward, FGO mask and verdict.

    ``completion_ids`` are the policy's actions as generated, EOS included when it stopped (vLLM returns the EOS
    id; the native seam appends it): the mask has one entry per id, as the loss sees them.
    """
    if problem.id != staged.problem_id:
        raise ValueError(f"judge_completion: problem {problem.id!r} given for a prompt of {staged.problem_id!r}")
    ids = [int(t) for t in completion_ids]
    finished = bool(ids) and ids[-1] == tokenizer.eos_token_id
    (rollout,), _ = judge_rollouts(tokenizer, [problem], [staged], [ids], [finished], executor=executor, fgo=fgo,
                                   reward_table=reward_table)
    return Judged(rollout.problem_id, rollout.stage, rollout.verdict, rollout.reward, rollout.mask, rollout.program)


def advance(curriculum: Curriculum, rows: Sequence[Judged], difficulties: Mapping[str, str]) -> dict[str, int]:
    """Algorithm 1 over a step's judged rollouts, in the order given (verl's batch order: each problem's group
    together, problems in sampling order); returns {problem id: new stage} for the problems that moved."""
    summaries = [Summary(r.problem_id, difficulties.get(r.problem_id, ""), r.stage, r.verdict.value, r.reward,
                         len(r.mask), sum(r.mask)) for r in rows]
    return update_curriculum(curriculum, summaries)


__all__ = ["Judged", "StagedPrompt", "advance", "judge_completion", "stage", "stager"]
