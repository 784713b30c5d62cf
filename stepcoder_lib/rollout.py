"""The rollout seam: what one RL step does between the policy and the loss, for every trainer.

problem -> CCCS prompt at the problem's current stage (task prompt + canonical prefix; the prefix is
prompt, so it never carries gradient) -> sampled completion -> program = prefix + completion ->
sandboxed executor (line coverage on when FGO is on) -> the paper's reward (Eq. 3, from the
verdict) -> FGO mask over the completion's tokens -> curriculum update (Algorithm 1, from the
verdict, over the rollouts of ALL ranks, gathered in rank order, so every rank holds the same state).

PPO (``stepcoder_lib.ppo``) and GRPO (``stepcoder_lib.grpo``) both call ``collect_rollouts``. Its
parts are plain functions over plain data (ids, texts, token ids, executor results) so that another
engine (the roadmap names verl) can call the same reward, mask and curriculum update without
these trainers: ``stage_prompts``, ``judge``, ``reward_of``, ``fgo_mask``, ``gather_summaries``,
``update_curriculum``, ``step_metrics``.

CCCS off: every prompt is the plain task (stage 0, empty prefix) and the curriculum is not
consulted. FGO off: the mask is all ones and the executor runs without coverage. Both off is
vanilla RL from compiler feedback.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from stepcoder_lib.curriculum import Curriculum
from stepcoder_lib.executor import ExecutionResult, Executor, Job, RewardTable, Verdict
from stepcoder_lib.generation import sample_completions
from stepcoder_lib.masking import completion_offsets, mask_from_result

#: ``sample_completions``'s signature: (model, tokenizer, prompts, *, n, temperature, top_p, max_new_tokens, greedy,
#: seed, batch_size) -> [prompt][sample] Completions. Another backend (vLLM, a scripted policy in tests) plugs in here.
Sampler = Callable[..., list[list[Any]]]
#: The paper's reward table (Eq. 3), the default everywhere.
PAPER_REWARD = RewardTable()


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
    prompt: str  # task prompt + prefix: what the policy was conditioned on
    prefix: str  # canonical prefix (part of the prompt; no gradient)
    completion: str  # the completion's text (special tokens dropped): program = prefix + completion
    token_ids: tuple[int, ...]  # the policy's actions: completion tokens, EOS included when it stopped
    finished: bool  # stopped with EOS (False: cut at max_new_tokens)
    verdict: Verdict
    reward: float  # Eq. 3 of the verdict; 0.0 for an INVALID_JOB (no signal, excluded from the loss)
    mask: tuple[int, ...]  # FGO mask, one 0/1 per token_ids entry (all ones with FGO off)
    result: ExecutionResult | None = field(default=None, compare=False, repr=False)

    @property
    def program(self) -> str:
        return self.prefix + self.completion

    @property
    def trainable(self) -> bool:
        """Whether the rollout enters the loss (an INVALID_JOB means our data is broken, not the program)."""
        return self.verdict != Verdict.INVALID_JOB


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


def stage_prompts(problem_ids: Sequence[str], task_prompts: Mapping[str, str],
                  curriculum: Curriculum | None) -> list[tuple[str, str, int]]:
    """(prompt, prefix, stage) per rollout: the task prompt plus the canonical prefix of the problem's current stage.

    ``curriculum=None`` (CCCS off) gives the plain task at stage 0 for every problem.
    """
    out = []
    for pid in problem_ids:
        task = task_prompts[pid]
        if curriculum is None:
            out.append((task, "", 0))
            continue
        stage = curriculum.stage(pid)
        prefix = curriculum.prefix_for(pid, stage)
        out.append((task + prefix, prefix, stage))
    return out


def judge(executor: Executor, programs: Sequence[str], problems: Sequence[Any]) -> list[ExecutionResult]:
    """Run each program on its problem's unit tests; one result per program, in order, whatever the program does."""
    jobs = [Job(prog, p.tests, problem_id=p.id) for prog, p in zip(programs, problems, strict=True)]
    return executor.run_batch(jobs, progress=False)


def reward_of(verdict: Verdict, table: RewardTable = PAPER_REWARD) -> float:
    """Eq. 3 of the paper from the verdict (+1 / -0.3 / -0.6 / -1; timeouts count as runtime errors).

    INVALID_JOB (a malformed job: our data, not the model) has no reward; it gets 0.0 and is kept out of the loss.
    """
    value = table(verdict)
    return 0.0 if value is None else float(value)


def fgo_mask(tokenizer: Any, token_ids: Sequence[int], prefix: str, result: ExecutionResult,
             enabled: bool) -> tuple[str, tuple[int, ...]]:
    """The completion's text and its FGO mask (1 = token on executed code; see ``stepcoder_lib.masking``).

    With FGO off the mask is all ones. The text is decoded from exactly the policy's tokens, so mask
    entries and tokens correspond one to one (re-tokenising the text could split it differently).
    """
    text, offsets = completion_offsets(tokenizer, token_ids)
    if not enabled:
        return text, (1,) * len(token_ids)
    return text, tuple(mask_from_result(result, prefix, text, offsets))


def gather_summaries(summaries: list[Summary]) -> list[Summary]:
    """Every rank's summaries, concatenated in rank order (local when not distributed). A collective."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(summaries)
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, [asdict(s) for s in summaries])
    return [Summary(**s) for part in parts for s in part]


def update_curriculum(curriculum: Curriculum, summaries: Sequence[Summary]) -> dict[str, int]:
    """Algorithm 1 over the GATHERED rollouts of a step: passes counted from the verdict, stale stages skipped.

    Returns the problems whose stage went down {id: new stage} (a pass streak at stage 0 only resets rho).
    """
    before = {s.problem_id: curriculum.stage(s.problem_id) for s in summaries}
    curriculum.update([s.problem_id for s in summaries], [Verdict(s.verdict) for s in summaries],
                      [s.stage for s in summaries])
    return {pid: curriculum.stage(pid) for pid, st in before.items() if curriculum.stage(pid) < st}


def collect_rollouts(model: Any, tokenizer: Any, problems: Sequence[Any], task_prompts: Mapping[str, str], *,
                     executor: Executor, sampling: SamplingSettings, curriculum: Curriculum | None, fgo: bool,
                     seed: int, reward_table: RewardTable = PAPER_REWARD,
                     sampler: Sampler = sample_completions) -> RolloutBatch:
    """One step's rollouts on this rank: ``problems`` has one entry per rollout (repeat a problem for a group).

    A collective when distributed (the summaries are gathered so the curriculum updates identically
    on every rank): every rank calls it at the same point. ``curriculum=None`` is CCCS off.
    """
    t0 = time.perf_counter()
    ids = [p.id for p in problems]
    staged = stage_prompts(ids, task_prompts, curriculum)
    t1 = time.perf_counter()
    completions = sampler(model, tokenizer, [s[0] for s in staged], n=1, temperature=sampling.temperature,
                          top_p=sampling.top_p, max_new_tokens=sampling.max_new_tokens, greedy=False, seed=seed,
                          batch_size=sampling.batch_size)
    t2 = time.perf_counter()
    eos = tokenizer.eos_token_id
    actions = [tuple(c[0].token_ids) + ((eos,) if c[0].finished else ()) for c in completions]
    texts = [completion_offsets(tokenizer, a)[0] for a in actions]
    t3 = time.perf_counter()
    results = judge(executor, [prefix + text for (_, prefix, _), text in zip(staged, texts)], problems)
    t4 = time.perf_counter()
    rollouts = []
    for p, (prompt, prefix, stage), action, comp, res in zip(problems, staged, actions, completions, results):
        text, mask = fgo_mask(tokenizer, action, prefix, res, fgo and res.verdict != Verdict.INVALID_JOB)
        rollouts.append(Rollout(p.id, p.difficulty, stage, prompt, prefix, text, action, comp[0].finished,
                                res.verdict, reward_of(res.verdict, reward_table), mask, res))
    summaries = gather_summaries([Summary(r.problem_id, r.difficulty, r.stage, r.verdict.value, r.reward,
                                          len(r.token_ids), sum(r.mask)) for r in rollouts])
    moved = update_curriculum(curriculum, summaries) if curriculum is not None else {}
    t5 = time.perf_counter()
    timings = {"generation": t2 - t1, "execution": t4 - t3, "masks_prompts": (t1 - t0) + (t3 - t2) + (t5 - t4)}
    return RolloutBatch(rollouts, summaries, timings, moved)


def step_metrics(summaries: Sequence[Summary], curriculum: Curriculum | None, fgo: bool) -> dict[str, Any]:
    """Per-step log values from the gathered summaries: reward, verdict shares, pass rates, stages, FGO kept share."""
    n = max(1, len(summaries))
    verdicts = Counter(s.verdict for s in summaries)
    out: dict[str, Any] = {  # floats; None where a value does not exist this step
        "reward_mean": sum(s.reward for s in summaries) / n,
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


__all__ = ["PAPER_REWARD", "Rollout", "RolloutBatch", "Sampler", "SamplingSettings", "Summary", "collect_rollouts",
           "fgo_mask",
           "gather_summaries", "judge", "reward_of", "stage_prompts", "step_metrics", "update_curriculum"]
