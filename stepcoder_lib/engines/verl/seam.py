"""The one place this package touches ``stepcoder_lib.rollout``: staging prompts, judging, the curriculum update.

verl's agent loop and manager call only these functions, so when the rollout seam changes
(token-aligned CCCS prompts: prompt ids as a prefix of the joint tokenisation of task prompt +
canonical solution), re-pointing them here is the whole change. Both already have the shape of
that coming API: staged prompts carry token ids, and judging takes the policy's completion ids.

The native trainers run the same steps inside ``rollout.collect_rollouts``; this module runs
them one rollout at a time (the agent loop judges each completion as it arrives).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepcoder_lib.curriculum import Curriculum
from stepcoder_lib.executor import Executor, RewardTable, Verdict
from stepcoder_lib.masking import completion_offsets
from stepcoder_lib.rollout import PAPER_REWARD, Summary, fgo_mask, judge, reward_of, stage_prompts, update_curriculum


@dataclass(frozen=True)
class StagedPrompt:
    """A rollout's prompt at its problem's current CCCS stage: token ids (what the policy continues) and the prefix."""

    problem_id: str
    stage: int
    prompt_ids: tuple[int, ...]
    prefix: str  # canonical prefix inside the prompt: program = prefix + completion


@dataclass(frozen=True)
class Judged:
    """One completion, judged: what the agent loop returns to verl as its reward and extra fields."""

    problem_id: str
    stage: int
    verdict: Verdict
    reward: float  # Eq. 3 of the verdict (0.0 for INVALID_JOB, which stays out of the loss)
    mask: tuple[int, ...]  # FGO mask, one entry per completion id (all ones with FGO off)
    program: str

    @property
    def trainable(self) -> bool:
        return self.verdict != Verdict.INVALID_JOB


def stage(problem_ids: Sequence[str], task_prompts: Mapping[str, str], curriculum: Curriculum | None,
          tokenizer: Any) -> list[StagedPrompt]:
    """Each problem's prompt at its current stage (``curriculum=None``: CCCS off, the plain task at stage 0).

    Tokenised as the native sampler tokenises prompts (no special tokens added)."""
    staged = stage_prompts(problem_ids, task_prompts, curriculum)
    ids = tokenizer([prompt for prompt, _, _ in staged], add_special_tokens=False)["input_ids"] if staged else []
    return [StagedPrompt(pid, st, tuple(int(t) for t in toks), prefix)
            for pid, (_, prefix, st), toks in zip(problem_ids, staged, ids, strict=True)]


def judge_completion(tokenizer: Any, executor: Executor, problem: Any, staged: StagedPrompt,
                     completion_ids: Sequence[int], *, fgo: bool, reward_table: RewardTable = PAPER_REWARD) -> Judged:
    """Run prefix + completion on the problem's tests once; the reward, FGO mask and verdict of that one run.

    ``completion_ids`` are the policy's actions as generated, EOS included when it stopped (vLLM returns the EOS
    id; the native seam appends it): the mask has one entry per id, as the loss sees them.
    """
    if problem.id != staged.problem_id:
        raise ValueError(f"judge_completion: problem {problem.id!r} given for a prompt of {staged.problem_id!r}")
    ids = [int(t) for t in completion_ids]
    text = completion_offsets(tokenizer, ids)[0]  # as collect_rollouts decodes the policy's actions
    program = staged.prefix + text
    result = judge(executor, [program], [problem])[0]
    _, mask = fgo_mask(tokenizer, ids, staged.prefix, result, fgo and result.verdict != Verdict.INVALID_JOB)
    return Judged(staged.problem_id, staged.stage, result.verdict, reward_of(result.verdict, reward_table), mask,
                  program)


def advance(curriculum: Curriculum, rows: Sequence[Judged], difficulties: Mapping[str, str]) -> dict[str, int]:
    """Algorithm 1 over a step's judged rollouts, in the order given (verl's batch order: each problem's group
    together, problems in sampling order); returns {problem id: new stage} for the problems that moved."""
    summaries = [Summary(r.problem_id, difficulties.get(r.problem_id, ""), r.stage, r.verdict.value, r.reward,
                         len(r.mask), sum(r.mask)) for r in rows]
    return update_curriculum(curriculum, summaries)


__all__ = ["Judged", "StagedPrompt", "advance", "judge_completion", "stage"]
