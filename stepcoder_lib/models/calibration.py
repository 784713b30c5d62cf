"""How often a model solves a split: pass@1 per difficulty, the number ``tiny`` is calibrated on.

Used to check that the tiny base model and its SFT give the ablation room to show something
(after SFT, 15-60% overall, introductory > interview > competition) and by notebook 02's
before/after table. Each problem gets ``n_samples`` completions at the paper's evaluation
decoding (temperature 0.2, top-p 0.95) from ``sample_completions``; each completion is the whole
program (stage 0: no CCCS prefix) and is judged by the sandboxed executor. pass@1 is the mean
share of passing samples (the unbiased estimator for k = 1). The full evaluation with pass@k,
failure breakdown and caching is ``issue 11``'s; this is the quick measurement training needs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.executor import Executor, ExecutorConfig, Job
from stepcoder_lib.models.generation import sample_completions
from stepcoder_lib.models.prompts import build_prompt

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

DIFFICULTY_ORDER = ("introductory", "interview", "competition")


def judge_completions(problems: list[Problem], completions: list[list[Any]], profile: Any,
                      progress: bool = False, executor: Executor | None = None) -> list[list[Any]]:
    """Executor results, ``[problem][sample]``, of each completion run as the whole program (on ``executor``
    when given, else on one opened for the call with the profile's limits)."""
    jobs = [Job(c.text, p.tests, problem_id=p.id) for p, row in zip(problems, completions, strict=True) for c in row]
    if executor is not None:
        flat = executor.run_batch(jobs, progress="judging" if progress else False)
    else:
        cfg = ExecutorConfig(workers=profile.executor.workers, time_limit_s=profile.executor.time_limit_s,
                             memory_limit_mb=profile.executor.memory_limit_mb)
        with Executor(cfg) as ex:
            flat = ex.run_batch(jobs, progress="judging" if progress else False)
    out, i = [], 0
    for row in completions:
        out.append(flat[i:i + len(row)])
        i += len(row)
    return out


def pass_at_1(model: Any, tokenizer: PreTrainedTokenizerBase, problems: list[Problem], profile: Any, *,
              n_samples: int = 2, temperature: float | None = None, top_p: float | None = None,
              max_new_tokens: int | None = None, seed: int = 0, batch_size: int = 64, progress: bool = False,
              executor: Executor | None = None) -> tuple[Any, dict[str, Any]]:
    """``(table, details)``: pass@1 per difficulty and overall (a DataFrame), plus the samples and timings.

    Decoding defaults to the profile's evaluation settings (``profile.eval``).
    """
    import pandas as pd  # lazy: importing this module needs no pandas

    ev = profile.eval
    t0 = time.perf_counter()
    prompts = [build_prompt(p, profile) for p in problems]
    completions = sample_completions(model, tokenizer, prompts, n=n_samples,
                                     temperature=ev.temperature if temperature is None else temperature,
                                     top_p=ev.top_p if top_p is None else top_p,
                                     max_new_tokens=ev.max_new_tokens if max_new_tokens is None else max_new_tokens,
                                     seed=seed, batch_size=batch_size)
    t_sample = time.perf_counter() - t0
    results = judge_completions(problems, completions, profile, progress=progress, executor=executor)
    t_judge = time.perf_counter() - t0 - t_sample
    rows = [{"difficulty": p.difficulty, "problem": p.id, "pass": sum(r.passed for r in rs) / len(rs),
             "verdicts": [str(r.verdict) for r in rs]} for p, rs in zip(problems, results, strict=True)]
    frame = pd.DataFrame(rows)
    per = frame.groupby("difficulty")["pass"].agg(["mean", "size"])
    order = [d for d in DIFFICULTY_ORDER if d in per.index] + [d for d in per.index if d not in DIFFICULTY_ORDER]
    table = per.reindex(order).rename(columns={"mean": "pass@1", "size": "problems"})
    table.loc["overall"] = [frame["pass"].mean(), len(frame)]
    table["problems"] = table["problems"].astype(int)
    n_tokens = sum(len(c.token_ids) for row in completions for c in row)
    details = {"completions": completions, "results": results, "per_problem": frame,
               "sample_s": t_sample, "judge_s": t_judge, "tokens": n_tokens,
               "tokens_per_s": n_tokens / max(t_sample, 1e-9)}
    return table, details
