"""What CCCS + FGO add to a rollout, next to what executing it costs.

Per rollout a trainer builds the stage prompt (curriculum), recovers the completion's character
offsets from its token ids, builds the FGO mask from the executor's executed lines, and feeds the
result back into the curriculum. The reference is the executor judging the same programs with
coverage on (workers = cores, as in training), both measured in this process. Programs are the
synthetic dataset's clean solutions cut at every CCCS stage, with 3 tests each (APPS+ has
about 3 per problem; fewer tests make the executor cheaper, so the ratio is the harder one).
Target: ours < 5% of the executor's wall time per rollout.
"""

from __future__ import annotations

import os
import time
from typing import Any

from stepcoder_lib.data.demo import demo_problems
from stepcoder_lib.executor import Executor, ExecutorConfig, Job
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.method.masking import completion_offsets, mask_from_result
from stepcoder_lib.models.tokenizer import tiny_tokenizer

TARGET = 0.05
TASK = "### Instruction:\nwrite an algorithm in python:\n{}\n### Response:\n"


def rollouts(n_problems: int, seed: int) -> tuple[Curriculum, list[dict[str, Any]]]:
    problems, _ = demo_problems(use_realdata=False, n=n_problems, seed=seed)
    cur = Curriculum.from_problems(problems)
    out = []
    for p in problems:
        tests = p.tests.__class__(p.tests.format, p.tests.inputs[:3], p.tests.outputs[:3], p.tests.fn_name)
        for stage in range(cur.plans[p.id].n_stages):
            prefix = cur.prefix_for(p.id, stage)
            out.append({"id": p.id, "stage": stage, "task": TASK.format(p.statement), "prefix": prefix,
                        "completion": p.canonical_solution[len(prefix):], "tests": tests})
    return cur, out


def bench_executor(rs: list[dict[str, Any]], workers: int) -> tuple[float, list[Any]]:
    jobs = [Job(r["prefix"] + r["completion"], r["tests"], problem_id=r["id"]) for r in rs]
    with Executor(ExecutorConfig(workers=workers, coverage=True, time_limit_s=3.0)) as ex:
        ex.run_batch(jobs[: 2 * workers], progress=False)  # warm the workers
        t0 = time.perf_counter()
        results = ex.run_batch(jobs, progress=False)
        dt = time.perf_counter() - t0
    assert all(r.passed for r in results), [r.summary() for r in results if not r.passed][:3]
    return dt / len(jobs), results


def bench_ours(cur: Curriculum, rs: list[dict[str, Any]], results: list[Any], repeats: int = 3) -> tuple[float, dict]:
    tok = tiny_tokenizer()
    ids = [tok(r["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for r in rs]
    parts = {"prompt": 0.0, "offsets": 0.0, "mask": 0.0, "update": 0.0}
    masked = total = 0
    for _ in range(repeats):
        for r, res, c_ids in zip(rs, results, ids):
            t0 = time.perf_counter()
            cur.prompt_for(r["id"], r["task"], r["stage"])
            t1 = time.perf_counter()
            text, offsets = completion_offsets(tok, c_ids)
            t2 = time.perf_counter()
            mask = mask_from_result(res, r["prefix"], text, offsets)
            t3 = time.perf_counter()
            cur.update([r["id"]], [res], [cur.stage(r["id"])])  # a pass counts from the verdict
            t4 = time.perf_counter()
            for k, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                parts[k] += dt
            masked += len(mask) - sum(mask)
            total += len(mask)
    n = repeats * len(rs)
    per = {k: v / n for k, v in parts.items()}
    per["masked share"] = masked / max(total, 1)
    return sum(v for k, v in per.items() if k != "masked share"), per


def main(n_problems: int = 40, seed: int = 0) -> dict[str, float]:
    workers = len(os.sched_getaffinity(0))
    cur, rs = rollouts(n_problems, seed)
    exec_s, results = bench_executor(rs, workers)
    tiny_tokenizer()  # trained/cached outside the timing
    ours_s, parts = bench_ours(cur, rs, results)
    ratio = ours_s / exec_s
    print(f"\n== CCCS prompt + FGO mask per rollout vs executor (coverage on), {len(rs)} rollouts "
          f"from {n_problems} generated problems, 3 tests each, {workers} workers ==")
    print(f"{'executor, wall per rollout':40s} {exec_s * 1e3:8.3f} ms")
    for k in ("prompt", "offsets", "mask", "update"):
        print(f"{'  ours: ' + k:40s} {parts[k] * 1e3:8.3f} ms")
    print(f"{'ours, total per rollout':40s} {ours_s * 1e3:8.3f} ms")
    print(f"ratio ours/executor = {ratio:.2%} (target < {TARGET:.0%}): {'MET' if ratio < TARGET else 'NOT MET'}; "
          f"{parts['masked share']:.1%} of completion tokens masked out")
    return {"executor_s": exec_s, "ours_s": ours_s, "ratio": ratio, **{f"{k}_s": v for k, v in parts.items()}}


if __name__ == "__main__":
    main()
