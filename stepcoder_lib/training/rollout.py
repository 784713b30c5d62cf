"""The rollout seam: what one RL step does between the policy and the loss, for every trainer.

problem -> CCCS prompt at the problem's current stage, as token ids (task prompt + canonical prefix,
cut on a token boundary of their joint tokenisation, ``encoding.aligned_prefix``; the prefix is
prompt, so it never carries gradient) -> sampled completion -> program = prefix + completion
(``prompts.answer_program``, the extraction evaluation uses) ->
sandboxed executor (line coverage on when FGO is on) -> the paper's reward (Eq. 3, from the
verdict) -> FGO mask over the completion's tokens -> curriculum update (Algorithm 1, from the
verdict, over the rollouts of ALL ranks, gathered in rank order, so every rank holds the same state).

PPO (``stepcoder_lib.training.ppo``) and GRPO (``stepcoder_lib.training.grpo``) both call ``collect_rollouts``. Its
parts are plain functions over plain data (ids, texts, token ids, executor results) so that another
engine (verl) can call the same prompts, reward, mask and curriculum update without these
trainers: ``StagePrompts``, ``judge_rollouts`` (``judge``, ``method.reward.reward_of``, ``fgo_mask``),
``gather_summaries``, ``update_curriculum``, ``step_metrics``.

A rollout the executor could not judge (``invalid_job``: our data; ``judge_error``: the judge
failed) carries no reward signal: its mask is all zeros, it is kept out of every loss and out of
the curriculum, and ``step_metrics`` counts it (``unjudged``).

CCCS off: every prompt is the plain task (stage 0, empty prefix) and the curriculum is not
consulted. FGO off: the mask is all ones and the executor runs without coverage. Both off is
vanilla RL from compiler feedback.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.executor import ExecutionResult, Executor, Job, Verdict
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.method.masking import completion_offsets, mask_from_result
from stepcoder_lib.method.reward import PAPER_REWARD, RewardTable, reward_of
from stepcoder_lib.models.encoding import aligned_prefix
from stepcoder_lib.models.generation import sample_completions
from stepcoder_lib.models.prompts import answer_program

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: ``sample_completions``'s signature: (model, tokenizer, prompts, *, n, temperature, top_p, max_new_tokens, greedy,
#: seed, batch_size) -> [prompt][sample] Completions. Another backend (vLLM, a scripted policy in tests) plugs in here.
Sampler = Callable[..., list[list[Any]]]
#: Verdicts that say nothing about the program: no reward, no loss, no curriculum step.
UNJUDGED = frozenset({Verdict.INVALID_JOB, Verdict.JUDGE_ERROR})


@dataclass(frozen=True)
class SamplingSettings:
    """Decoding for rollouts (the paper: nucleus sampling, T 0.8, top-p 0.9, at most 1024 new tokens)."""

    temperature: float = 0.8
    top_p: float = 0.9
    max_new_tokens: int = 1024
    batch_size: int = 64  # sequences per ``generate`` call


@dataclass(frozen=True)
class Rollout:
    """One sampled completion, judged: everything a trainer's loss needs, as plain data."""

    problem_id: str
    difficulty: str
    stage: int  # CCCS stage the prompt was built at (0 with CCCS off: the whole program)
    prompt_ids: tuple[int, ...]  # what the policy was conditioned on: task prompt + prefix, token-aligned
    prefix: str  # canonical prefix (part of the prompt; no gradient)
    completion: str  # the completion's text after the prompt (special tokens dropped)
    token_ids: tuple[int, ...]  # the policy's actions: completion tokens, EOS included when it stopped
    finished: bool  # stopped with EOS (False: cut at max_new_tokens)
    verdict: Verdict
    reward: float  # Eq. 3 of the verdict; 0.0 when unjudged (no signal, excluded from the loss)
    mask: tuple[int, ...]  # FGO mask, one 0/1 per token_ids entry (all ones with FGO off, zeros when unjudged)
    program: str = ""  # what the executor ran: ``answer_program(prefix, completion)``
    result: ExecutionResult | None = field(default=None, compare=False, repr=False)

    @property
    def trainable(self) -> bool:
        """Whether the rollout enters the loss (unjudged: our data or the judge failed, not the program)."""
        return self.verdict not in UNJUDGED


@dataclass(frozen=True)
class Summary:
    """What every rank learns about every rollout of a step (gathered): the curriculum's and the log's input."""

    problem_id: str
    difficulty: str
    stage: int
    verdict: str
    reward: float
    n_tokens: int
    n_kept: int


@dataclass
class RolloutBatch:
    """A step's rollouts on this rank, the gathered summaries of all ranks, and where the time went."""

    rollouts: list[Rollout]
    summaries: list[Summary]  # all ranks, rank order
    timings: dict[str, float]  # seconds: generation, execution, masks_prompts
    moved: dict[str, int] = field(default_factory=dict)  # curriculum moves this step {problem id: new stage}


@dataclass(frozen=True)
class StagedPrompt:
    """One rollout's prompt: token ids that are a prefix of encode(task prompt + canonical solution)."""

    problem_id: str
    stage: int
    prompt_ids: tuple[int, ...]
    prefix: str  # the canonical solution's text the ids hold after the task prompt


class StagePrompts:
    """CCCS prompts as token ids, built once per (problem, stage) and reused every step.

    Stage ``c`` asks for the solution from the curriculum's cut (``Curriculum.plans``), moved back to
    the start of the token of the joint tokenisation that covers it (``encoding.aligned_prefix``).
    ``curriculum=None`` (CCCS off) gives the plain task at stage 0 for every problem.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, task_prompts: Mapping[str, str],
                 curriculum: Curriculum | None) -> None:
        self.tokenizer, self.task_prompts, self.curriculum = tokenizer, dict(task_prompts), curriculum
        self._built: dict[tuple[str, int], StagedPrompt] = {}

    def at(self, problem_id: str, stage: int) -> StagedPrompt:
        key = (problem_id, stage)
        if key not in self._built:
            task = self.task_prompts[problem_id]
            if stage == 0 or self.curriculum is None:
                aligned = aligned_prefix(self.tokenizer, task, "", 0)
            else:
                solution = self.curriculum.solutions[problem_id]
                cut = len(self.curriculum.prefix_for(problem_id, stage))
                aligned = aligned_prefix(self.tokenizer, task, solution, cut)
            self._built[key] = StagedPrompt(problem_id, stage, aligned.prompt_ids, aligned.body_prefix)
        return self._built[key]

    def __call__(self, problem_ids: Sequence[str]) -> list[StagedPrompt]:
        """Each problem at its current stage (stage 0 without a curriculum)."""
        cur = self.curriculum
        return [self.at(pid, cur.stage(pid) if cur is not None else 0) for pid in problem_ids]


def judge(executor: Executor, programs: Sequence[str], problems: Sequence[Problem]) -> list[ExecutionResult]:
    """Run each program on its problem's unit tests; one result per program, in order, whatever the program does."""
    jobs = [Job(prog, p.tests, problem_id=p.id) for prog, p in zip(programs, problems, strict=True)]
    return executor.run_batch(jobs, progress=False)


def fgo_mask(tokenizer: PreTrainedTokenizerBase, token_ids: Sequence[int], prefix: str, result: ExecutionResult,
             enabled: bool, context: Sequence[int] = ()) -> tuple[str, tuple[int, ...]]:
    """The completion's text and its FGO mask (1 = token on executed code; see ``stepcoder_lib.method.masking``).

    With FGO off the mask is all ones; an unjudged rollout's is all zeros (it carries no signal).
    The text is decoded from exactly the policy's tokens after their ``context`` (the prompt ids),
    so mask entries and tokens correspond one to one.
    """
    text, offsets = completion_offsets(tokenizer, token_ids, context)
    if result.verdict in UNJUDGED:
        return text, (0,) * len(token_ids)
    if not enabled:
        return text, (1,) * len(token_ids)
    _, span = answer_program(prefix, text)
    return text, tuple(mask_from_result(result, prefix, text, offsets, span))


def judge_rollouts(tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem], staged: Sequence[StagedPrompt],
                   actions: Sequence[Sequence[int]], finished: Sequence[bool], *, executor: Executor, fgo: bool,
                   reward_table: RewardTable = PAPER_REWARD) -> tuple[list[Rollout], float]:
    """Completion token ids -> judged ``Rollout``s (program, verdict, Eq. 3 reward, FGO mask), in order.

    ``actions`` are the policy's tokens (EOS included when it stopped). Returns the rollouts and the
    seconds the executor took. The one place a completion becomes a reward: every engine calls it.
    """
    texts = [completion_offsets(tokenizer, a, s.prompt_ids)[0] for a, s in zip(actions, staged, strict=True)]
    programs = [answer_program(s.prefix, t)[0] for s, t in zip(staged, texts)]
    t0 = time.perf_counter()
    results = judge(executor, programs, problems)
    seconds = time.perf_counter() - t0
    rollouts = []
    for p, st, action, done, program, res in zip(problems, staged, actions, finished, programs, results):
        text, mask = fgo_mask(tokenizer, action, st.prefix, res, fgo, st.prompt_ids)
        rollouts.append(Rollout(p.id, p.difficulty, st.stage, st.prompt_ids, st.prefix, text, tuple(action),
                                bool(done), res.verdict, reward_of(res.verdict, reward_table), mask, program, res))
    return rollouts, seconds


def gather_summaries(summaries: list[Summary]) -> list[Summary]:
    """Every rank's summaries, concatenated in rank order (local when not distributed). A collective."""
    import torch.distributed as dist  # lazy: importing this module needs no torch

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(summaries)
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, [asdict(s) for s in summaries])
    return [Summary(**s) for part in parts for s in part]


def update_curriculum(curriculum: Curriculum, summaries: Sequence[Summary]) -> dict[str, int]:
    """Algorithm 1 over the GATHERED rollouts of a step: passes counted from the verdict, stale stages skipped.

    Unjudged rollouts are no evidence either way and are skipped. Returns the problems whose stage
    went down {id: new stage} (a pass streak at stage 0 only resets rho).
    """
    judged = [s for s in summaries if Verdict(s.verdict) not in UNJUDGED]
    before = {s.problem_id: curriculum.stage(s.problem_id) for s in judged}
    curriculum.update([s.problem_id for s in judged], [Verdict(s.verdict) for s in judged],
                      [s.stage for s in judged])
    return {pid: curriculum.stage(pid) for pid, st in before.items() if curriculum.stage(pid) < st}


def collect_rollouts(model: Any, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                     prompts: StagePrompts, *,
                     executor: Executor, sampling: SamplingSettings, curriculum: Curriculum | None, fgo: bool,
                     seed: int, reward_table: RewardTable = PAPER_REWARD,
                     sampler: Sampler = sample_completions) -> RolloutBatch:
    """One step's rollouts on this rank: ``problems`` has one entry per rollout (repeat a problem for a group).

    A collective when distributed (the summaries are gathered so the curriculum updates identically
    on every rank): every rank calls it at the same point. ``curriculum=None`` is CCCS off.
    """
    t0 = time.perf_counter()
    staged = prompts([p.id for p in problems])
    t1 = time.perf_counter()
    completions = sampler(model, tokenizer, [s.prompt_ids for s in staged], n=1, temperature=sampling.temperature,
                          top_p=sampling.top_p, max_new_tokens=sampling.max_new_tokens, greedy=False, seed=seed,
                          batch_size=sampling.batch_size)
    t2 = time.perf_counter()
    eos = tokenizer.eos_token_id
    actions = [tuple(c[0].token_ids) + ((eos,) if c[0].finished else ()) for c in completions]
    rollouts, execution = judge_rollouts(tokenizer, problems, staged, actions, [c[0].finished for c in completions],
                                         executor=executor, fgo=fgo, reward_table=reward_table)
    t3 = time.perf_counter()
    summaries = gather_summaries([Summary(r.problem_id, r.difficulty, r.stage, r.verdict.value, r.reward,
                                          len(r.token_ids), sum(r.mask)) for r in rollouts])
    moved = update_curriculum(curriculum, summaries) if curriculum is not None else {}
    t4 = time.perf_counter()
    timings = {"generation": t2 - t1, "execution": execution,
               "masks_prompts": (t1 - t0) + (t3 - t2 - execution) + (t4 - t3)}
    return RolloutBatch(rollouts, summaries, timings, moved)


def step_metrics(summaries: Sequence[Summary], curriculum: Curriculum | None, fgo: bool) -> dict[str, Any]:
    """Per-step log values from the gathered summaries: reward, verdict shares, pass rates, stages, FGO kept share."""
    n = max(1, len(summaries))
    verdicts = Counter(s.verdict for s in summaries)
    judged = [s for s in summaries if Verdict(s.verdict) not in UNJUDGED]
    out: dict[str, Any] = {  # floats; None where a value does not exist this step
        "reward_mean": sum(s.reward for s in judged) / max(1, len(judged)),
        "unjudged": float(len(summaries) - len(judged)),  # rollouts kept out of the loss (invalid job, judge error)
        "pass_rate": verdicts[Verdict.PASSED.value] / n,
        "completion_tokens": float(sum(s.n_tokens for s in summaries)),
        "rollouts": float(len(summaries)),
    }
    for v in Verdict:
        out[f"verdict/{v.value}"] = verdicts[v.value] / n
    by_difficulty: dict[str, list[Summary]] = {}
    for s in summaries:
        by_difficulty.setdefault(s.difficulty or "unknown", []).append(s)
    for d, group in sorted(by_difficulty.items()):
        out[f"pass_rate/{d}"] = sum(s.verdict == Verdict.PASSED.value for s in group) / len(group)
        out[f"reward/{d}"] = sum(s.reward for s in group) / len(group)
    out["stage_mean_batch"] = sum(s.stage for s in summaries) / n
    whole = [s for s in summaries if s.stage == 0]  # the plain task: comparable with and without CCCS
    out["pass_rate_stage0"] = (sum(s.verdict == Verdict.PASSED.value for s in whole) / len(whole)) if whole else None
    out["reward_stage0"] = (sum(s.reward for s in whole) / len(whole)) if whole else None
    if fgo:
        out["fgo_kept_share"] = sum(s.n_kept for s in summaries) / max(1, sum(s.n_tokens for s in summaries))
    if curriculum is not None:
        stages = list(curriculum.stages().values())
        out["stage_mean"] = sum(stages) / max(1, len(stages))
        for stage, count in sorted(Counter(stages).items()):
            out[f"stage_hist/{stage}"] = float(count)
        remaining = [1 - curriculum.plans[pid].cuts[st] / max(1, curriculum.plans[pid].length)
                     for pid, st in curriculum.stages().items()]
        out["remaining_share_mean"] = sum(remaining) / max(1, len(remaining))  # of the solution left to write
    return out


__all__ = ["UNJUDGED", "Rollout", "RolloutBatch", "Sampler", "SamplingSettings", "StagePrompts",
           "StagedPrompt", "Summary", "collect_rollouts", "fgo_mask", "gather_summaries", "judge", "judge_rollouts",
           "step_metrics", "update_curriculum"]
