"""CCCS: the Curriculum of Code Completion Subtasks (paper Sec. 3.2, Algorithm 1).

Early in training the model completes only the tail of the canonical solution; the prefix it is
given shrinks, one stage at a time, as its running pass rate on the problem crosses a threshold.

Choices the paper leaves open (and why):

* Conditional statements = ``if`` statements and their ``elif`` clauses (``DEFAULT_KINDS``).
  That is what "conditional statement" means in Python's grammar; loops are iteration
  statements, ``try`` is exception handling, and a ternary is an expression whose start lies
  mid-line. All of them are available through ``kinds`` for ablations. An ``elif`` is its own
  start point (its own condition, its own position); ``else:`` has no condition and no AST node.
* Statement ``n`` is counted from 1 in start order, so stage ``c`` cuts the solution at the
  start of statement ``stride * c`` and stage 0 is the empty prefix (the plain task), as the
  paper's "at the end of the curriculum s* = 0" requires. ``ceil(sqrt(E)) - 1`` stages times the
  stride is always < E, so every stage has its statement.
* A cut is at the statement's first character (its keyword), so the prefix ends with that
  line's indentation and the completion starts mid-line; ``cut_at_line_start`` moves the cut to
  the start of the line instead (the prompt then never ends in spaces).
* ``alpha = 0.1``, ``rho_threshold = 0.8`` (the paper gives no values; the defaults of
  ``rl.cccs``, ``stepcoder_lib.settings.profiles.CCCSConfig``): from rho = 0 the stage
  moves only after 16 passes in a row (1 - 0.9**16 = 0.815 > 0.8, 1 - 0.9**15 = 0.794), i.e.
  one whole group of the paper's 16 rollouts per example, and afterwards only while the
  recent pass rate (an average over ~1/alpha = 10 rollouts) stays around 80%.
* "rho is updated after every rollout": ``update`` walks the results in the order given; the
  distributed form gathers them in rank order first, so every rank applies the same sequence
  and ends in the same state. A result counts as a pass from its verdict, never from its reward:
  results are ``ExecutionResult``s, ``Verdict``s or booleans (a number is refused: with a reward
  table whose pass value is not 1, e.g. ``RewardTable(passed=0.5)``, a reward-based test would
  never see a pass and every stage would freeze). Results may carry the stage they were generated
  at; those from a stage other than the problem's current one (stale after a move within the same
  batch) are skipped.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stepcoder_lib.data.conditionals import (
    DEFAULT_KINDS,
    ConditionalStatement,
    find_conditional_statements,
    line_offsets,
)
from stepcoder_lib.data.problem import Problem
from stepcoder_lib.settings.profiles import CCCSConfig


def n_stages(n_conditionals: int) -> int:
    """ceil(sqrt(E)) stages, at least one (E = 0 has only stage 0)."""
    k = math.isqrt(n_conditionals)
    return max(1, k + (k * k < n_conditionals))


def stride(n_conditionals: int) -> int:
    """ceil(E / ceil(sqrt(E))) conditional statements between stages (0 when E = 0)."""
    return -(-n_conditionals // n_stages(n_conditionals))


@dataclass(frozen=True)
class StagePlan:
    """Where each stage of one problem cuts its solution: ``cuts[c]`` chars of prefix at stage c."""

    n_conditionals: int
    n_stages: int
    stride: int
    cuts: tuple[int, ...]
    length: int = 0  # characters of the solution


def plan_stages(solution: str, config: CCCSConfig = CCCSConfig(),
                conditionals: Sequence[ConditionalStatement] | None = None,
                kinds: Sequence[str] = DEFAULT_KINDS) -> StagePlan:
    """The stage plan of one canonical solution (its ``kinds`` of conditionals found from its AST unless given)."""
    conds = list(conditionals) if conditionals is not None else find_conditional_statements(solution, kinds)
    e = len(conds)
    k, s = n_stages(e), stride(e)
    starts = line_offsets(solution)
    cuts = [0]
    for c in range(1, k):
        st = conds[s * c - 1]  # statement number s*c, counted from 1
        cuts.append(starts[st.start_line - 1] if config.cut_at_line_start else st.start_char)
    return StagePlan(e, k, s, tuple(cuts), len(solution))


@dataclass
class ProblemState:
    stage: int
    rho: float = 0.0


def passed(result: Any) -> bool:
    """Whether one rollout passed: from its verdict (``ExecutionResult``, ``Verdict``, "passed") or a bool.

    Rewards are refused on purpose (see the module docstring): the reward table may change, the verdict does not.
    """
    if isinstance(result, bool) or type(result).__name__ == "bool_":  # Python and numpy booleans
        return bool(result)
    verdict = getattr(result, "verdict", result)
    if isinstance(verdict, str):  # Verdict is a str enum; JSON-loaded results carry its value
        return verdict == "passed"
    raise TypeError(f"curriculum results are verdicts, ExecutionResults or booleans, not {type(result).__name__} "
                    f"({result!r}): a reward's value does not say whether the program passed")


class Curriculum:
    """Per-problem stage and running pass rate; builds stage prompts and applies Algorithm 1.

    ``kinds``: the statements that are start points (``data.conditionals``; the module docstring says
    why ``if``/``elif``); an ablation's choice, not a profile's."""

    def __init__(self, solutions: Mapping[str, str] | None = None, config: CCCSConfig = CCCSConfig(),
                 kinds: Sequence[str] = DEFAULT_KINDS):
        self.config, self.kinds = config, tuple(kinds)
        self.solutions: dict[str, str] = {}
        self.plans: dict[str, StagePlan] = {}
        self.state: dict[str, ProblemState] = {}
        for pid, sol in (solutions or {}).items():
            self.add(pid, sol)

    @classmethod
    def from_problems(cls, problems: Iterable[Problem], config: CCCSConfig = CCCSConfig(),
                      kinds: Sequence[str] = DEFAULT_KINDS) -> Curriculum:
        """From problems' ids and canonical solutions."""
        problems = list(problems)
        missing = [p.id for p in problems if not p.canonical_solution]
        if missing:
            raise ValueError(f"{len(missing)} problem(s) have no canonical solution, e.g. {missing[:3]}")
        return cls({str(p.id): p.canonical_solution for p in problems if p.canonical_solution}, config, kinds)

    def add(self, problem_id: str, solution: str,
            conditionals: Sequence[ConditionalStatement] | None = None) -> StagePlan:
        """Register a problem where training starts it: the longest prefix, stage ceil(sqrt(E)) - 1, rho = 0."""
        plan = plan_stages(solution, self.config, conditionals, self.kinds)
        self.solutions[problem_id], self.plans[problem_id] = solution, plan
        self.state[problem_id] = ProblemState(stage=plan.n_stages - 1)
        return plan

    def __len__(self) -> int:
        return len(self.state)

    def __contains__(self, problem_id: object) -> bool:
        return problem_id in self.state

    def _get(self, problem_id: str) -> ProblemState:
        try:
            return self.state[problem_id]
        except KeyError:
            raise KeyError(f"problem {problem_id!r} is not in the curriculum; add() it first") from None

    def stage(self, problem_id: str) -> int:
        return self._get(problem_id).stage

    def rho(self, problem_id: str) -> float:
        return self._get(problem_id).rho

    def stages(self) -> dict[str, int]:
        return {pid: st.stage for pid, st in self.state.items()}

    def prefix_for(self, problem_id: str, stage: int | None = None) -> str:
        """The canonical solution up to the current (or given) stage's start point."""
        plan = self.plans[problem_id]
        c = self._get(problem_id).stage if stage is None else stage
        if not 0 <= c < plan.n_stages:
            raise ValueError(f"problem {problem_id!r} has stages 0..{plan.n_stages - 1}, got {c}")
        return self.solutions[problem_id][: plan.cuts[c]]

    def prompt_for(self, problem_id: str, task_prompt: str, stage: int | None = None) -> str:
        """Task prompt followed by the prefix: the prefix is prompt, so it never carries gradient."""
        return task_prompt + self.prefix_for(problem_id, stage)

    def program_for(self, problem_id: str, completion: str, stage: int | None = None) -> str:
        """What the reward runs: prefix + completion (completion generated at ``stage``)."""
        return self.prefix_for(problem_id, stage) + completion

    def update(self, problem_ids: Sequence[str], results: Sequence[Any],
               stages: Sequence[int] | None = None) -> dict[str, int]:
        """Algorithm 1 over rollouts in order; pass results GATHERED from all ranks. Returns moves {id: new stage}."""
        if len(problem_ids) != len(results) or (stages is not None and len(stages) != len(results)):
            raise ValueError("problem_ids, results (and stages) must have the same length")
        a, moved = self.config.alpha, {}
        for i, (pid, res) in enumerate(zip(problem_ids, results)):
            st = self._get(pid)
            if stages is not None and stages[i] != st.stage:
                continue  # generated at a stage this problem has already left
            st.rho = a + (1 - a) * st.rho if passed(res) else (1 - a) * st.rho
            if st.rho > self.config.rho_threshold:
                st.rho, st.stage = 0.0, max(st.stage - 1, 0)
                moved[pid] = st.stage
        return moved

    def update_distributed(self, problem_ids: Sequence[str], results: Sequence[Any],
                           stages: Sequence[int] | None = None) -> dict[str, int]:
        """Gather every rank's results (rank order) and apply them: identical state on all ranks.

        A collective: every rank must call it at the same point (with its own, possibly empty, results).
        """
        ids, res, stg = gather_rollouts(list(problem_ids), [passed(r) for r in results],
                                        None if stages is None else list(stages))
        return self.update(ids, res, stg)

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "config": {**asdict(self.config), "kinds": list(self.kinds)},
            "problems": {pid: {"stage": st.stage, "rho": st.rho, "n_stages": self.plans[pid].n_stages}
                         for pid, st in sorted(self.state.items())},
        }

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Restore stages and rho; ``strict`` demands the same problem set and stage counts."""
        saved = state["problems"]
        if strict and set(saved) != set(self.state):
            missing, extra = set(self.state) - set(saved), set(saved) - set(self.state)
            raise KeyError(f"curriculum state mismatch: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}")
        for pid, s in saved.items():
            if pid not in self.state:
                continue
            if int(s["n_stages"]) != self.plans[pid].n_stages:
                raise ValueError(f"problem {pid!r}: saved with {s['n_stages']} stages, now {self.plans[pid].n_stages}")
            self.state[pid] = ProblemState(stage=int(s["stage"]), rho=float(s["rho"]))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.state_dict(), indent=1, sort_keys=True))

    def load(self, path: str | Path, strict: bool = True) -> None:
        self.load_state_dict(json.loads(Path(path).read_text()), strict=strict)


def gather_rollouts(problem_ids: list[str], results: list[Any],
                    stages: list[int] | None = None) -> tuple[list[str], list[Any], list[int] | None]:
    """All ranks' (ids, results, stages) concatenated in rank order; local when not distributed."""
    import torch.distributed as dist  # lazy: importing this module needs no torch

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return problem_ids, results, stages
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (problem_ids, results, stages))
    ids = [p for part in parts for p in part[0]]
    res = [r for part in parts for r in part[1]]
    has_stages = [part[2] is not None for part in parts]
    if any(has_stages) and not all(has_stages):
        raise ValueError("some ranks passed stages and others did not")
    stg = [s for part in parts for s in part[2]] if all(has_stages) else None
    return ids, res, stg


def simulate(cur: Curriculum, pass_prob: Callable[[str, int, StagePlan, int], float], steps: int,
             rollouts: int = 16, seed: int = 0) -> list[dict[str, int]]:
    """Run Algorithm 1 against a scripted policy: ``pass_prob(id, stage, plan, step)`` per rollout.

    Each step samples ``rollouts`` results per problem (sorted ids) and applies them in one
    ``update``, as a trainer would after a batch; returns the stage snapshot after every step.
    """
    rng = random.Random(seed)
    history = [cur.stages()]
    for step in range(steps):
        ids, res, stg = [], [], []
        for pid in sorted(cur.state):
            c = cur.stage(pid)
            p = pass_prob(pid, c, cur.plans[pid], step)
            for _ in range(rollouts):
                ids.append(pid)
                res.append(rng.random() < p)
                stg.append(c)
        cur.update(ids, res, stg)
        history.append(cur.stages())
    return history


def remaining_share_policy(skill0: float = 0.3, gain: float = 0.01) -> Callable[[str, int, StagePlan, int], float]:
    """A scripted learner: pass rate skill**(share of the solution left to write); skill grows per step."""

    def prob(pid: str, stage: int, plan: StagePlan, step: int) -> float:
        skill = min(1.0, skill0 + gain * step)
        total = max(1, plan.length)
        return skill ** ((total - plan.cuts[stage]) / total)

    return prob
