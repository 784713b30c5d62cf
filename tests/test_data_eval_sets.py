"""MBPP and HumanEval load into Problems whose canonical solutions pass in the executor (full sets)."""

from __future__ import annotations

import pytest

from stepcoder_lib.data import load_humaneval, load_mbpp
from stepcoder_lib.executor import Executor, ExecutorConfig, Job


@pytest.fixture(scope="module")
def eval_executor():
    # the suite's 1 s limit is for hostile programs; a few honest MBPP solutions need more under load
    with Executor(ExecutorConfig(workers=2, time_limit_s=4.0, memory_limit_mb=1024)) as ex:
        yield ex


def _failures(ex: Executor, problems) -> list[str]:
    results = ex.run_batch([Job(p.canonical_solution, p.tests, p.id) for p in problems], progress=False)
    assert len(results) == len(problems)
    return [r.summary() for r in results if not r.passed]


@pytest.mark.slow
def test_humaneval_canonical_solutions_pass_164_of_164(eval_executor) -> None:
    problems = load_humaneval()
    assert len(problems) == 164
    assert _failures(eval_executor, problems) == []


@pytest.mark.realdata
@pytest.mark.slow
def test_mbpp_canonical_solutions_pass_974_of_974(realdata, eval_executor) -> None:
    problems = load_mbpp(realdata / "mbpp" / "mbpp.jsonl")
    assert len(problems) == 974
    assert _failures(eval_executor, problems) == []


@pytest.mark.realdata
@pytest.mark.slow
def test_sanitized_mbpp_canonical_solutions_pass_427_of_427(realdata, eval_executor) -> None:
    problems = load_mbpp(realdata / "mbpp" / "sanitized-mbpp.json")
    assert len(problems) == 427
    assert _failures(eval_executor, problems) == []


@pytest.mark.realdata
def test_a_wrong_solution_fails_its_tests(realdata, eval_executor) -> None:
    # the check above can fail: swap two tasks' solutions and nothing passes
    a, b = load_mbpp(realdata / "mbpp" / "mbpp.jsonl")[600:602]
    swapped = [a.replace(canonical_solution=b.canonical_solution), b.replace(canonical_solution=a.canonical_solution)]
    assert len(_failures(eval_executor, swapped)) == 2
    he = load_humaneval()[:2]
    broken = he[0].replace(canonical_solution=he[0].starter_code + "    return None\n")
    assert len(_failures(eval_executor, [broken])) == 1
