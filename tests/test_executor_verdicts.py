"""Every verdict, every test format and the competitive programmer's habits, on the real executor."""

from __future__ import annotations

import textwrap

import pytest
from conftest import TEST_LIMITS

from stepcoder_lib.executor import Executor, ExecutorConfig, Job, Verdict
from stepcoder_lib.executor.testcases import TestCases
from stepcoder_lib.method.reward import PAPER_REWARD, RewardTable

ADD_STDIN = TestCases("stdin", ("1 2\n", "10 -4\n", "5 5\n"), ("3\n", "6\n", "10\n"))


def run(ex: Executor, program: str, tests: TestCases = ADD_STDIN, **job):
    return ex.run(Job(textwrap.dedent(program), tests, problem_id="t", **job))


# --- verdicts and reward ----------------------------------------------------------------------
def test_passed_with_reward_plus_one(executor):
    r = run(executor, "a, b = map(int, input().split())\nprint(a + b)\n")
    assert r.verdict == Verdict.PASSED and PAPER_REWARD(r.verdict) == 1.0 and r.passed
    assert [t.rule for t in r.tests] == ["exact"] * 3


def test_wrong_answer_minus_point_three(executor):
    r = run(executor, "a, b = map(int, input().split())\nprint(a * b if a == 5 else a + b)\n")
    assert r.verdict == Verdict.WRONG_ANSWER and PAPER_REWARD(r.verdict) == -0.3
    assert [t.verdict for t in r.tests] == [Verdict.PASSED, Verdict.PASSED, Verdict.WRONG_ANSWER]
    assert "expected '10', got '25'" in r.tests[2].detail


def test_runtime_error_minus_point_six_names_exception_and_line(executor):
    r = run(executor, "x = 1\ny = [][x]\n")
    assert r.verdict == Verdict.RUNTIME_ERROR and PAPER_REWARD(r.verdict) == -0.6
    assert r.tests[0].error_type == "IndexError" and "(line 2)" in r.tests[0].detail
    assert "solution.py" in r.tests[0].stderr and "harness" not in r.tests[0].stderr


def test_compile_error_minus_one(executor):
    r = run(executor, "def f(:\n    pass\n")
    assert r.verdict == Verdict.COMPILE_ERROR and PAPER_REWARD(r.verdict) == -1.0
    assert r.tests[0].error_type == "SyntaxError" and "line 1" in r.error
    assert all(t.verdict == Verdict.NOT_RUN for t in r.tests[1:])


def test_timeout_counts_as_runtime_error(executor):
    r = run(executor, "while True:\n    pass\n")
    assert r.verdict == Verdict.TIMEOUT and PAPER_REWARD(r.verdict) == -0.6
    assert "CPU time limit 1s" in r.tests[0].detail


def test_memory_exceeded_counts_as_runtime_error(executor):
    r = run(executor, "x = bytearray(4 * 1024 ** 3)\n")
    assert r.verdict == Verdict.MEMORY_EXCEEDED and PAPER_REWARD(r.verdict) == -0.6


def test_reward_table_is_configurable():
    table = RewardTable(timeout=-0.8, memory_exceeded=-0.7)
    assert table(Verdict.TIMEOUT) == -0.8 and table(Verdict.MEMORY_EXCEEDED) == -0.7
    assert table(Verdict.RUNTIME_ERROR) == -0.6 and table(Verdict.INVALID_JOB) is None
    with Executor(ExecutorConfig(**TEST_LIMITS)) as ex:
        assert RewardTable(wrong_answer=-0.5)(run(ex, "print(0)").verdict) == -0.5


def test_worst_verdict_wins_and_early_stop_marks_not_run(executor):
    tests = TestCases("stdin", ("1\n", "2\n", "0\n", "3\n"), ("1\n", "2\n", "0\n", "3\n"))
    r = run(executor, "n = int(input())\nprint(n if n != 2 else 5)\nassert n != 0\n", tests)
    assert [t.verdict for t in r.tests] == [Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR,
                                            Verdict.NOT_RUN]
    assert r.verdict == Verdict.RUNTIME_ERROR
    with Executor(ExecutorConfig(**TEST_LIMITS, early_stop=False)) as ex:
        assert run(ex, "n = int(input())\nprint(n if n != 2 else 5)\nassert n != 0\n", tests).tests[3].passed


# --- formats ----------------------------------------------------------------------------------
def test_call_based_unwraps_apps_outputs_and_normalises_tuples(executor):
    tests = TestCases("call", ([[3, 1, 2]], [[]]), ([[1, 2, 3]], [[]]), fn_name="srt")
    r = run(executor, "def srt(xs):\n    return tuple(sorted(xs))\n", tests)
    assert r.passed and r.tests[0].rule == "unwrapped"


def test_call_based_leetcode_solution_class_with_typing_names(executor):
    tests = TestCases("call", ([[2, 7, 11, 15], 9], [[3, 3], 6]), ([0, 1], [0, 1]), fn_name="twoSum")
    program = """
    class Solution:
        def twoSum(self, nums: List[int], target: int) -> List[int]:
            seen: Dict[int, int] = {}
            for i, x in enumerate(nums):
                if target - x in seen:
                    return [seen[target - x], i]
                seen[x] = i
    """
    r = run(executor, program, tests)
    assert r.passed, r.summary()


def test_call_based_object_with_doctored_eq_is_wrong(executor):
    tests = TestCases("call", ([1],), (2,), fn_name="f")
    r = run(executor, "class A:\n    def __eq__(self, o): return True\ndef f(x):\n    return A()\n", tests)
    assert r.verdict == Verdict.WRONG_ANSWER


def test_call_based_bool_is_not_int_and_floats_use_tolerance(executor):
    r = run(executor, "def f(x):\n    return True\n", TestCases("call", ([1],), (1,), fn_name="f"))
    assert r.verdict == Verdict.WRONG_ANSWER
    r = run(executor, "def f(x):\n    return 0.1 + 0.2\n", TestCases("call", ([1],), (0.3,), fn_name="f"))
    assert r.passed and r.tests[0].rule == "numeric"


def test_assert_style_mbpp_with_setup_code(executor):
    tests = TestCases("assert", ("assert add(1, 2) == 3", "assert add(x0, 1) == 8"), setup_code="x0 = 7")
    assert run(executor, "def add(a, b):\n    return a + b\n", tests).passed
    r = run(executor, "def add(a, b):\n    return a - b\n", tests)
    assert r.verdict == Verdict.WRONG_ANSWER and "assertion failed" in r.tests[0].detail


def test_assert_style_humaneval_check(executor):
    test = "def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n\ncheck(total)\n"
    tests = TestCases("assert", (test,))
    assert run(executor, "def total(xs):\n    return sum(xs)\n", tests).passed
    assert not run(executor, "def total(xs):\n    return len(xs) + 1\n", tests).passed


def test_program_own_assert_is_a_runtime_error_not_wrong_answer(executor):
    tests = TestCases("assert", ("assert f(1) == 1",))
    r = run(executor, "def f(x):\n    assert x > 5, 'too small'\n    return x\n", tests)
    assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "AssertionError"


# --- output comparison as judged ----------------------------------------------------------------
@pytest.mark.parametrize("printed, expected, rule", [
    ("3\n", "3\n", "exact"),
    ("3", "3\n", "trailing_whitespace"),
    ("3   \n\n\n", "3\n", "trailing_whitespace"),
    ("1\n2\n3\n", "1 2 3\n", "whitespace"),
    ("0.333333333\n", "0.3333333333\n", "numeric"),
    ("123456789012345678901234567890\n", "123456789012345678901234567890\n", "exact"),
])
def test_stdout_rules_recorded(executor, printed, expected, rule):
    r = run(executor, f"print({printed!r}, end='')\n", TestCases("stdin", ("",), (expected,)))
    assert r.passed and r.tests[0].rule == rule


def test_big_integers_compared_exactly(executor):
    big = 10 ** 40
    r = run(executor, f"print({big + 1})\n", TestCases("stdin", ("",), (f"{big}\n",)))
    assert r.verdict == Verdict.WRONG_ANSWER


# --- habits of competitive programmers ----------------------------------------------------------
HABITS = {
    "sys.stdin.readline": "import sys\ninput = sys.stdin.readline\na, b = map(int, input().split())\nprint(a + b)\n",
    "buffer.read": ("import sys\na, b = map(int, sys.stdin.buffer.read().split())\n"
                    "sys.stdout.write(str(a + b) + '\\n')\n"),
    "open(0)": "a, b = map(int, open(0).read().split())\nprint(a + b)\n",
    "os.read(0)": "import os\na, b = map(int, os.read(0, 1 << 20).split())\nos.write(1, b'%d\\n' % (a + b))\n",
    "__main__ guard": ("def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\n"
                       "if __name__ == '__main__':\n    main()\n"),
    "sys.exit at end": "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\n",
    "exit() at end": "a, b = map(int, input().split())\nprint(a + b)\nexit()\n",
    "os._exit after flush": ("import os, sys\na, b = map(int, input().split())\nprint(a + b)\nsys.stdout.flush()\n"
                             "os._exit(0)\n"),
    "atexit fast io": ("import atexit, io, sys\n_buf = io.StringIO()\n_out = sys.stdout\nsys.stdout = _buf\n"
                       "atexit.register(lambda: _out.write(_buf.getvalue()))\na, b = map(int, input().split())\n"
                       "print(a + b)\n"),
    "deep recursion in a big-stack thread": (
        "import sys, threading\nsys.setrecursionlimit(1 << 20)\nthreading.stack_size(1 << 27)\n"
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
        "def main():\n    a, b = map(int, input().split())\n    print(a + b + depth(100000) - 100000)\n"
        "threading.Thread(target=main).start()\n"),
    "deep lru_cache recursion on the main thread": (
        "import sys\nfrom functools import lru_cache\nsys.setrecursionlimit(10 ** 6)\n"
        "@lru_cache(None)\ndef g(n):\n    return 0 if n == 0 else g(n - 1) + 1\n"
        "a, b = map(int, input().split())\nprint(a + b + g(30000) - 30000)\n"),
    "numpy": "import numpy as np\nprint(int(np.array(list(map(int, input().split()))).sum()))\n",
    "temp file in cwd": ("import tempfile\nwith tempfile.TemporaryFile('w+') as f:\n    f.write(input())\n"
                         "    f.seek(0)\n    print(sum(map(int, f.read().split())))\n"),
}


@pytest.mark.parametrize("habit", sorted(HABITS))
def test_competitive_programming_habits_pass(executor, habit):
    r = run(executor, HABITS[habit])
    assert r.passed, f"{habit}: {r.summary()}\n{r.tests[0].stderr}"


def test_crlf_input_and_missing_trailing_newline(executor):
    tests = TestCases("stdin", ("3 4\r\n", "5 6"), ("7\n", "11\n"))
    assert run(executor, "a, b = map(int, input().split())\nprint(a + b)\n", tests).passed


# --- coverage -----------------------------------------------------------------------------------
BRANCHY = "n = int(input())\nif n > 0:\n    print('pos')\nelif n < 0:\n    print('neg')\nelse:\n    print('zero')\n"
SIGNS = TestCases("stdin", ("5\n", "-2\n"), ("pos\n", "neg\n"))


def test_coverage_per_test_and_union(cov_executor):
    r = run(cov_executor, BRANCHY, SIGNS)
    assert r.passed
    assert r.tests[0].lines == {1, 2, 3} and r.tests[1].lines == {1, 2, 4, 5}
    assert r.executed_lines == {1, 2, 3, 4, 5}  # 'zero' branch (7) never ran; 'else:' (6) is no statement


def test_coverage_of_crashing_program_stops_at_the_crash(cov_executor):
    r = run(cov_executor, "x = 1\ny = x / 0\nprint(y)\n", TestCases("stdin", ("",), ("",)))
    assert r.verdict == Verdict.RUNTIME_ERROR and r.executed_lines == {1, 2}


def test_coverage_excludes_test_and_setup_code(cov_executor):
    tests = TestCases("assert", ("assert f(2) == 4\nassert f(3) == 9",), setup_code="import math")
    r = run(cov_executor, "def f(x):\n    return x * x\n\n\ndef unused():\n    return 0\n", tests)
    assert r.passed and r.executed_lines == {1, 2, 5}


def test_coverage_off_records_nothing(executor):
    r = run(executor, BRANCHY, SIGNS)
    assert r.passed and r.executed_lines == frozenset() and not r.coverage


# --- limits -------------------------------------------------------------------------------------
def test_per_problem_limit_scaled_from_reference_time(executor):
    slow = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6:\n    pass\nprint(0)\n"
    tests = TestCases("stdin", ("",), ("0\n",))
    assert run(executor, slow, tests, reference_cpu_s=0.5).passed  # limit max(1, 4*0.5) = 2 s
    assert run(executor, slow, tests, time_limit_s=0.3).verdict == Verdict.TIMEOUT
