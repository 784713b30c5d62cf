"""Solutions written for APPS's own harness become standalone programs; every drop reason is its true one."""

from __future__ import annotations

from data_helpers import write_apps_problem

from stepcoder_lib.data import clean_apps
from stepcoder_lib.executor import Executor, ExecutorConfig, Job
from stepcoder_lib.executor.testcases import TestCases

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


def test_harness_solutions_run_as_stored_and_reasons_have_their_true_names(tmp_path, executor) -> None:
    root = tmp_path / "apps"
    write_apps_problem(root, "train", "0001", solutions=[TOP_LEVEL_RETURN, "print(int(input()) + 1)\n"])
    write_apps_problem(root, "train", "0002", difficulty="interview", solutions=[MODULE_NONLOCAL],
                       input_output={"inputs": ["3 9 4\n", "1\n"], "outputs": ["10\n", "2\n"]})
    write_apps_problem(root, "train", "0003", solutions=["from fractions import gcd\nprint(int(input()) + 1)\n"])
    write_apps_problem(root, "train", "0004", difficulty="interview",
                       solutions=["import time\nt = time.clock()\nprint(int(input()) + 1)\n"])
    write_apps_problem(root, "train", "0005", solutions=["import no_such_module_xyz\nprint(int(input()) + 1)\n"])
    write_apps_problem(root, "train", "0006", solutions=['n = input()\nprint int(n) + 1\n'])
    write_apps_problem(root, "train", "0007", difficulty="competition", solutions=["print(int(raw_input()) + 1)\n"])
    write_apps_problem(root, "train", "0008", solutions=["print(int(input()) + 1\n"])
    res = clean_apps(root, tmp_path / "out", executor=executor, plots=False, progress=False)
    assert {d.id[-4:]: d.reason for d in res.dropped} == {
        "0003": "removed API", "0004": "removed API", "0005": "missing library", "0006": "python 2 code",
        "0007": "python 2 code", "0008": "syntax error"}
    assert "fractions.py" in next(d.detail for d in res.dropped if d.id.endswith("0003"))
    kept = {p.id[-4:]: p for p in res.problems}
    assert set(kept) == {"0001", "0002"}
    for p in kept.values():  # the first candidate, wrapped, is the canonical solution, and says so
        assert p.metadata["canonical_index"] == 0 and p.metadata["canonical_wrapped"] is True
        assert p.metadata["standardised"]["wrapped_solutions"] == [0]
        assert p.canonical_solution.startswith("def main():\n")
    assert [c["kind"] for c in kept["0001"].conditionals] == ["if"]  # found in the wrapped program
    # the stored canonical solutions run as they are, with exact comparison, in a fresh executor
    with Executor(ExecutorConfig(workers=2, compare="exact")) as strict:
        results = strict.run_batch([Job(p.canonical_solution, p.tests, p.id) for p in kept.values()], progress=False)
    assert all(r.passed for r in results), [r.summary() for r in results]
    # the report: a section per new reason, counts per difficulty; wrapped canonical solutions counted
    rep = res.report
    assert rep.reason_sections["removed API"]["by_difficulty"] == {"interview": 1, "introductory": 1}
    assert rep.reason_sections["python 2 code"]["by_difficulty"] == {"competition": 1, "introductory": 1}
    assert rep.reason_sections["removed API"]["stage"] == "execute"
    assert rep.wrapped == {"interview": 1, "introductory": 1}
    assert rep.reason_table("python 2 code").loc["python 2 code"].to_dict() == {
        "introductory": 1, "interview": 0, "competition": 1, "total": 2}
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Dropped: removed API" in md and "## Dropped: python 2 code" in md
    assert "| canonical solution wrapped in main() | 1 | 1 | 0 | 2 |" in md


def test_a_wrapped_program_keeps_its_behaviour(executor) -> None:
    from stepcoder_lib.data import standardise_solution

    tests = TestCases("stdin", ("-5\n", "4\n"), ("0\n", "5\n"))
    wrapped, ok = standardise_solution(TOP_LEVEL_RETURN, "stdin")
    assert ok
    (res,) = executor.run_batch([Job(wrapped, tests, "w")], progress=False)
    assert res.passed, res.summary()
