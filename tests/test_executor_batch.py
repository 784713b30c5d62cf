"""The batch API: order, bad jobs, stability under load, configuration."""

from __future__ import annotations

import os

import pytest

from stepcoder_lib.executor import Executor, ExecutorConfig, Job, Verdict, run_program
from stepcoder_lib.executor.testcases import TestCases
from stepcoder_lib.method.reward import PAPER_REWARD

GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"
TESTS = TestCases("stdin", tuple(f"{i} {i}\n" for i in range(5)), tuple(f"{2 * i}\n" for i in range(5)))


def test_bad_jobs_name_problem_and_field_and_batch_continues(executor, capsys):
    jobs = [
        Job(GOOD, TESTS, problem_id="ok-1"),
        Job(GOOD, TestCases("stdin", ("1 1\n",), ()), problem_id="apps/17"),
        Job(GOOD, TestCases("call", ([1],), (1,), fn_name=None), problem_id="apps/18"),
        Job(GOOD, TestCases("assert", ("assert (",)), problem_id="mbpp/3"),
        Job(None, TESTS, problem_id="apps/19"),  # type: ignore[arg-type]
        Job(GOOD, TestCases("stdout", ("1",), ("1",)), problem_id="apps/20"),  # type: ignore[arg-type]
        "not a job",
        Job(GOOD, TESTS, problem_id="ok-2"),
    ]
    results = executor.run_batch(jobs, progress=True)
    assert len(results) == len(jobs)
    assert results[0].passed and results[-1].passed
    bad = results[1:7]
    assert all(r.verdict == Verdict.INVALID_JOB and PAPER_REWARD(r.verdict) is None for r in bad)
    assert "apps/17" in bad[0].error and "'outputs'" in bad[0].error
    assert "apps/18" in bad[1].error and "'fn_name'" in bad[1].error
    assert "mbpp/3" in bad[2].error and "'inputs[0]'" in bad[2].error
    assert "apps/19" in bad[3].error and "'program'" in bad[3].error
    assert "apps/20" in bad[4].error and "'format'" in bad[4].error
    assert "job #6" in bad[5].error
    assert "executing" in capsys.readouterr().err  # the progress bar


def test_results_come_back_in_input_order(executor):
    programs = [f"import time\ntime.sleep({0.05 * (i % 3)})\nprint({i})\n" for i in range(12)]
    tests = [TestCases("stdin", ("",), (f"{i}\n",)) for i in range(12)]
    results = executor.run_batch([Job(p, t, problem_id=str(i)) for i, (p, t) in enumerate(zip(programs, tests))],
                                 progress=False)
    assert [r.problem_id for r in results] == [str(i) for i in range(12)]
    assert all(r.passed for r in results)


def test_verdicts_stable_with_twice_as_many_workers_as_cores():
    cores = len(os.sched_getaffinity(0))
    cpu_bound = ("n = int(input())\ns = 0\nfor i in range(n):\n    s += i * i % 7\nprint(s)\n")
    n = 300_000
    tests = TestCases("stdin", (f"{n}\n",) * 3, (f"{sum(i * i % 7 for i in range(n))}\n",) * 3)
    jobs = [Job(cpu_bound, tests, problem_id=str(i)) for i in range(6 * cores)]
    with Executor(ExecutorConfig(workers=2 * cores, time_limit_s=2.0)) as ex:
        results = ex.run_batch(jobs, progress=False)
    assert all(r.passed for r in results), [r.summary() for r in results if not r.passed]
    # the machine was oversubscribed: wall time exceeded CPU time, yet no verdict flipped
    assert max(t.duration_s / max(t.cpu_s, 1e-3) for r in results for t in r.tests) > 1.2


def test_workers_default_divides_cores_by_local_world_size(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert ExecutorConfig().n_workers() == max(1, cores // 2)
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert ExecutorConfig().n_workers() == cores
    assert ExecutorConfig(workers=7).n_workers() == 7


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="compare mode"):
        ExecutorConfig(compare="lenient")
    with pytest.raises(ValueError, match="prelude"):
        ExecutorConfig(prelude="everything")


def test_run_program_convenience():
    r = run_program(GOOD, TESTS, problem_id="x", workers=1, coverage=True)
    assert r.passed and r.executed_lines == {1, 2}


def test_same_program_same_result(executor):
    program = "s = {'apple', 'kiwi', 'fig', 'pear'}\nprint(' '.join(s))\n"  # set order depends on the hash seed
    tests = TestCases("stdin", ("",), ("x\n",))
    outs = {executor.run(Job(program, tests)).tests[0].stdout for _ in range(4)}
    assert len(outs) == 1
