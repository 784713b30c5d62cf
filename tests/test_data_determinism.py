"""Cleaning the same input gives the same bytes: 5 runs, 2 of them on a loaded machine, slow solutions
at the training limit, and drop details that would carry the interpreter's path."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from data_helpers import write_apps_problem

from stepcoder_lib.data import clean_apps

LIMIT_S = 0.5  # the training limit of these runs; candidates run under 4x that
LOOP = "s = 0\nfor i in range(N):\n    s += i % 7\n"
FAST = "print(int(input()) + 1)\n"


def _iterations_for(cpu_s: float) -> int:
    """How many iterations of ``LOOP`` (module-level code, as the sandbox runs it) take ``cpu_s`` here."""
    n = 100_000
    while True:
        code = compile(LOOP, "<calibrate>", "exec")
        t0 = time.process_time()
        exec(code, {"N": n})
        spent = time.process_time() - t0
        if spent > 0.1:
            return int(n * cpu_s / spent)
        n *= 2


def _slow(cpu_s: float) -> str:
    """A correct solution that needs about ``cpu_s`` of CPU per test."""
    return f"N = {_iterations_for(cpu_s)}\n{LOOP}{FAST}"


@contextlib.contextmanager
def _cpu_hogs() -> Iterator[None]:
    """One busy process per core for the duration (the machine under load)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(len(os.sched_getaffinity(0)))]
    try:
        time.sleep(0.3)
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.mark.slow
def test_five_reruns_two_under_load_are_byte_identical(tmp_path) -> None:
    src = tmp_path / "apps"
    one_test = {"inputs": ["1\n"], "outputs": ["2\n"]}
    # slow but correct solutions around the training limit, before a fast one or alone
    write_apps_problem(src, "train", "0001", solutions=[_slow(0.8 * LIMIT_S), FAST], input_output=one_test)
    write_apps_problem(src, "train", "0002", difficulty="interview", solutions=[_slow(0.95 * LIMIT_S)],
                       input_output=one_test)
    write_apps_problem(src, "train", "0003", difficulty="competition", solutions=[_slow(1.1 * LIMIT_S), FAST],
                       input_output=one_test)
    # failures whose messages name files of this interpreter
    write_apps_problem(src, "train", "0004", solutions=["from fractions import gcd\n" + FAST])
    write_apps_problem(src, "train", "0005", solutions=["import no_such_module_xyz\n" + FAST])
    write_apps_problem(src, "test", "0006")
    names = ("apps_plus.jsonl", "report.json", "dropped.jsonl", "report.md")
    runs = []
    for i, loaded in enumerate((False, True, False, True, False)):
        out = tmp_path / f"run{i}"
        with _cpu_hogs() if loaded else contextlib.nullcontext():
            clean_apps(src, out, workers=2, time_limit_s=LIMIT_S, plots=False, progress=False)
        runs.append({name: (out / name).read_bytes() for name in names})
    for i, run in enumerate(runs[1:], 1):
        for name in names:
            assert run[name] == runs[0][name], f"run {i} ({'loaded' if i in (1, 3) else 'idle'}): {name} differs"
    text = b"".join(runs[0].values()).decode()
    for machine_specific in {sys.prefix, sys.base_prefix, os.path.expanduser("~"), str(tmp_path), str(Path.cwd())}:
        assert machine_specific not in text, machine_specific
    # what the bytes say: the fast candidate is preferred; a slow-only problem gets the selection limit
    from stepcoder_lib.data import CleaningReport

    rows = {r["id"][-4:]: r for r in CleaningReport.load(tmp_path / "run0" / "report.json").per_problem}
    assert {k: (r["canonical_index"], r["time_limit_s"]) for k, r in rows.items()} == {
        "0001": (1, LIMIT_S), "0002": (0, 4 * LIMIT_S), "0003": (1, LIMIT_S), "0006": (0, LIMIT_S)}
    assert b'"reason":"removed API"' in runs[0]["dropped.jsonl"] and b"(fractions.py)" in runs[0]["dropped.jsonl"]
