"""Solutions written for APPS's own harness become standalone programs; every drop reason is its true one."""

from __future__ import annotations

from data_helpers import write_apps_problem

from stepcoder_lib.data import clean_apps
from stepcoder_lib.executor import Executor, ExecutorConfig, Job
from stepcoder_lib.testcases import TestCases

TOP_LEVEL_RETURN = "n = int(input())\nif n < 0:\n    print(0)\n    return\nprint(n + 1)\n"
MODULE_NONLOCAL = (
    "best = 0\n"
    "def see(x):\n"
    "    nonlocal best\n"
    "    best = max(best, x)\n"
    "for x in map(int, input().split()):\n"
    "    see(x)\n"
    "print(best + 1)\n"
)
TABS_AND_TEXT = ('import sys\nHELP = """two\n  lines"""\n'
                 "n = int(input())\nif n:\n\tprint(n + 1)\n\treturn\nprint(HELP)\n")


def test_only_harness_only_errors_are_wrapped() -> None:
    from stepcoder_lib.data import standardise_solution

    for src in (TOP_LEVEL_RETURN, MODULE_NONLOCAL, TABS_AND_TEXT,
                "from __future__ import annotations\nx: int = int(input())\nreturn\n"):
        out, wrapped = standardise_solution(src, "stdin")
        assert wrapped and out.startswith(("def main():\n", "from __future__ import annotations\ndef main():\n"))
        assert out.rstrip().endswith("main()")
        compile(out, "<wrapped>", "exec")  # a standalone program
    out, _ = standardise_solution(TABS_AND_TEXT, "stdin")
    assert '"""two\n  lines"""' in out and "\n\tif n:\n\t\tprint(n + 1)\n" in out  # strings untouched, tabs kept
    for src, fmt in (("print(1)\n", "stdin"),  # compiles as it is
                     ("print(int(input()) + 1\n", "stdin"),  # a real syntax error stays one
                     ("x = 1\nyield x\n", "stdin"),  # main() would become a generator and do nothing
                     ("def f(x):\n    return x\nreturn\n", "call")):  # APPS's harness does not wrap call-based code
        assert standardise_solution(src, fmt) == (src, False)


def test_a_wrapped_program_keeps_its_behaviour(executor) -> None:
    from stepcoder_lib.data import standardise_solution

    tests = TestCases("stdin", ("-5\n", "4\n"), ("0\n", "5\n"))
    wrapped, ok = standardise_solution(TOP_LEVEL_RETURN, "stdin")
    assert ok
    (res,) = executor.run_batch([Job(wrapped, tests, "w")], progress=False)
    assert res.passed, res.summary()
