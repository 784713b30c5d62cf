"""APPS -> APPS+ cleaning: each stage, every drop with its reason, reruns byte-identical."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from data_helpers import DEFECTS, write_apps_problem

from stepcoder_lib.data import (
    STAGES,
    CleaningReport,
    Problem,
    assign_splits,
    classify_failure,
    clean_apps,
    cleaning,
    extract_starter_code,
    load_apps_plus,
    read_apps,
    stage_execute,
    stage_extract,
    stage_require,
    stage_standardise,
)
from stepcoder_lib.data.conditionals import find_conditional_statements
from stepcoder_lib.executor import ExecutionResult, Verdict
from stepcoder_lib.executor import TestResult as TR  # (a Test* name would be collected by pytest)
from stepcoder_lib.executor.testcases import TestCases
from stepcoder_lib.settings.paths import repo_root


# ----------------------------------------------------------------------------- stages 1 and 2
def test_stage_require_drops_each_missing_field_with_its_reason(tmp_path) -> None:
    write_apps_problem(tmp_path, "train", "0001")
    write_apps_problem(tmp_path, "train", "0002", input_output=None)
    write_apps_problem(tmp_path, "train", "0003", input_output={"inputs": [], "outputs": []})
    write_apps_problem(tmp_path, "train", "0004", input_output={"inputs": ["1\n"], "outputs": []})
    write_apps_problem(tmp_path, "train", "0005", solutions=None)
    write_apps_problem(tmp_path, "train", "0006", solutions=["", 3])
    write_apps_problem(tmp_path, "train", "0007", question="  \n")
    kept, dropped = stage_require(read_apps(tmp_path))
    assert [r.id for r in kept] == ["apps/train/0001"]
    assert {d.id.rsplit("/", 1)[1]: d.reason for d in dropped} == {
        "0002": "missing tests", "0003": "missing tests", "0004": "missing outputs",
        "0005": "missing solutions", "0006": "missing solutions", "0007": "missing statement"}
    assert all(d.stage == "require" and d.detail and d.difficulty == "introductory" for d in dropped)


def test_stage_standardise_keeps_good_and_names_bad_fields(tmp_path) -> None:
    write_apps_problem(tmp_path, "train", "0001", input_output={"inputs": [["2", "a b"]], "outputs": ["x\r\ny"]})
    write_apps_problem(tmp_path, "train", "0002", input_output={"inputs": ["1", "2"], "outputs": ["1"]})
    write_apps_problem(tmp_path, "train", "0003", input_output={"fn_name": "f", "inputs": [[1]], "outputs": [[[2]]]},
                       starter_code="def f(x):\n")
    kept, dropped = stage_standardise(read_apps(tmp_path))
    assert [p.id for p in kept] == ["apps/train/0001", "apps/train/0003"]
    assert kept[0].tests.inputs == ("2\na b\n",) and kept[0].tests.outputs == ("x\ny",)
    assert kept[1].tests.outputs == ([[2]],)  # unwrapping is stage 3's decision
    assert kept[1].starter_code == "" and kept[1].metadata["apps_starter_code"] == "def f(x):\n"
    (d,) = dropped
    assert (d.id, d.stage, d.reason) == ("apps/train/0002", "standardise", "malformed tests")
    assert "field 'outputs': 1 outputs for 2 inputs" in d.detail


# ----------------------------------------------------------------------------- stage 3
def _result(verdict: Verdict, *tests: TR, error: str | None = None) -> ExecutionResult:
    return ExecutionResult("p", verdict, tests=tests, error=error)


def test_classify_failure_maps_verdicts_to_reasons() -> None:
    t = TR
    cases = [
        (_result(Verdict.COMPILE_ERROR, t(0, Verdict.COMPILE_ERROR, error_type="SyntaxError"), error="line 1"),
         "syntax error"),
        (_result(Verdict.RUNTIME_ERROR, t(0, Verdict.RUNTIME_ERROR, error_type="ModuleNotFoundError",
                                          detail="No module")), "missing library"),
        (_result(Verdict.RUNTIME_ERROR, t(0, Verdict.RUNTIME_ERROR, error_type="ImportError",
                                          detail="ImportError: cannot import name 'gcd' from 'fractions'")),
         "removed API"),
        (_result(Verdict.RUNTIME_ERROR, t(0, Verdict.RUNTIME_ERROR, error_type="AttributeError",
                                          detail="AttributeError: module 'time' has no attribute 'clock'")),
         "removed API"),
        (_result(Verdict.RUNTIME_ERROR, t(0, Verdict.RUNTIME_ERROR, error_type="AttributeError",
                                          detail="AttributeError: 'list' object has no attribute 'x'")),
         "runtime error"),
        (_result(Verdict.RUNTIME_ERROR, t(0, Verdict.RUNTIME_ERROR, error_type="NameError",
                                          detail="NameError: name 'xrange' is not defined")), "python 2 code"),
        (_result(Verdict.COMPILE_ERROR, t(0, Verdict.COMPILE_ERROR, error_type="SyntaxError"),
                 error="SyntaxError: Missing parentheses in call to 'print'. Did you mean print(...)?"),
         "python 2 code"),
        (_result(Verdict.TIMEOUT, t(0, Verdict.PASSED),
                 t(1, Verdict.TIMEOUT, detail="CPU time limit 4s exceeded (4.01s)")), "timeout"),
        (_result(Verdict.RUNTIME_ERROR, t(0, Verdict.RUNTIME_ERROR, error_type="ZeroDivisionError")), "runtime error"),
        (_result(Verdict.MEMORY_EXCEEDED, t(0, Verdict.MEMORY_EXCEEDED)), "runtime error"),
        (_result(Verdict.WRONG_ANSWER, t(0, Verdict.WRONG_ANSWER, detail="expected 2, got 3")), "wrong output"),
        (_result(Verdict.INVALID_JOB, error="p: field 'inputs': no tests"), "invalid tests"),
    ]
    for res, reason in cases:
        assert classify_failure(res)[0] == reason, res
    timeout = next(res for res, reason in cases if reason == "timeout")
    assert classify_failure(timeout, 8.0)[1] == "test 1: time limit 8s exceeded"  # no measured time: reruns agree
    path = _result(Verdict.RUNTIME_ERROR, t(0, Verdict.RUNTIME_ERROR, error_type="ImportError", detail=(
        "ImportError: cannot import name 'gcd' from 'fractions' (/opt/py/lib/python3.11/fractions.py) (line 1)")))
    assert classify_failure(path)[1] == ("test 0: ImportError: cannot import name 'gcd' from 'fractions' "
                                         "(fractions.py) (line 1)")


def _problem(pid: str, solutions: list[str], tests: TestCases) -> Problem:
    return Problem(pid, "apps", "introductory", "s", tests, solutions=tuple(solutions),
                   metadata={"source_split": "train"})


def test_stage_execute_picks_first_passing_candidate_and_unwraps(executor) -> None:
    stdin = TestCases("stdin", ("1\n", "41\n"), ("2\n", "42\n"))
    wrapped = TestCases("call", ([1], [2]), ([True], [False]), fn_name="odd")
    list_valued = TestCases("call", ([2],), ([[0, 1]],), fn_name="rng")  # returns a list: wrapped once more
    really_lists = TestCases("call", ([1],), ([1],), fn_name="one")  # returns [1]: the list is the value
    problems = [
        _problem("a/1", ["print(int(input()) + 2)\n", "print(int(input())+1)\n", "print(int(input()) + 1)  # 3rd\n"],
                 stdin),
        _problem("a/2", ["def odd(n):\n    return n % 2 == 1\n"], wrapped),
        _problem("a/3", ["def rng(n):\n    return list(range(n))\n"], list_valued),
        _problem("a/4", ["def one(n):\n    return [n]\n"], really_lists),
        _problem("a/5", ["print(0)\n", "print(1)\n", "print(int(input()) + 1)\n"], stdin),
    ]
    kept, dropped = stage_execute(problems, executor=executor, max_candidates=2, progress=False)
    by = {p.id: p for p in kept}
    assert by["a/1"].canonical_solution == "print(int(input())+1)\n" and by["a/1"].metadata["canonical_index"] == 1
    assert by["a/1"].solutions == (by["a/1"].canonical_solution,)
    assert by["a/2"].tests.outputs == (True, False) and by["a/2"].metadata["outputs_unwrapped"] is True
    assert by["a/3"].tests.outputs == ([0, 1],) and by["a/3"].metadata["outputs_unwrapped"] is True
    assert by["a/4"].tests.outputs == ([1],) and by["a/4"].metadata["outputs_unwrapped"] is False
    assert "outputs_unwrapped" not in by["a/1"].metadata
    # a/5's only passing candidate is the 3rd, beyond max_candidates=2: dropped with the FIRST candidate's reason
    (d,) = dropped
    assert d.id == "a/5" and d.reason == "wrong output" and "#0: wrong output; #1: wrong output" in d.detail
    # the kept tests are exactly what the canonical solution passes, with exact comparison
    from stepcoder_lib.executor import Executor, ExecutorConfig, Job

    with Executor(ExecutorConfig(workers=2, compare="exact")) as strict:
        res = strict.run_batch([Job(p.canonical_solution, p.tests, p.id) for p in kept], progress=False)
    assert all(r.passed for r in res), [r.summary() for r in res]


def test_stage_execute_survives_a_crashing_batch(executor) -> None:
    class Flaky:
        """An executor whose batch call fails and whose one-off call fails for one problem."""

        def run_batch(self, jobs, progress=False):
            raise RuntimeError("pool broke")

        def run(self, job):
            if job.problem_id.startswith("b/2"):
                raise RuntimeError("worker exploded")
            return executor.run(job)

    tests = TestCases("stdin", ("1\n",), ("2\n",))
    problems = [_problem(f"b/{i}", ["print(int(input()) + 1)\n"], tests) for i in (1, 2, 3)]
    kept, dropped = stage_execute(problems, executor=Flaky(), progress=False)
    assert [p.id for p in kept] == ["b/1", "b/3"]
    assert [(d.id, d.reason) for d in dropped] == [("b/2", "crash")] and "worker exploded" in dropped[0].detail


# ----------------------------------------------------------------------------- stage 4
def test_extract_starter_code_is_the_prefix_through_the_signature() -> None:
    src = ("import math\n\n\ndef helper():\n    return 1\n\n"
           "def solve(a,\n          b: int = (1, 2)) -> int:  # sig\n    return a\n")
    assert extract_starter_code(src, "solve") == src[: src.index("    return a")]
    cls = "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        return []\n"
    assert extract_starter_code(cls, "twoSum") == cls[: cls.index("        return")]
    one_line = "def f(x): return x\n"
    assert extract_starter_code(one_line, "f") == "def f(x):"
    deco = "import functools\n@functools.lru_cache(None)\nasync def g(n):\n    return n\n"
    assert extract_starter_code(deco, "g") == "import functools\n@functools.lru_cache(None)\nasync def g(n):\n"
    assert extract_starter_code("f = lambda x: x\n", "f") == ""
    assert extract_starter_code("def f():\n    pass\n", None) == ""
    both = "class A:\n    def h(self):\n        return 1\nclass Solution:\n    def h(self):\n        return 2\n"
    assert extract_starter_code(both, "h").endswith("class Solution:\n    def h(self):\n")


def test_stage_extract_conditionals_and_starter(tmp_path) -> None:
    sol = "def f(x):\n    if x > 1:\n        return 1\n    elif x < 0:\n        return 2\n    return 0 if x else 3\n"
    call = Problem("c/1", "apps", "interview", "s", TestCases("call", ([1],), (0,), fn_name="f"),
                   canonical_solution=sol)
    stdin = Problem("c/2", "apps", "interview", "s", TestCases("stdin", ("1",), ("1",)),
                    canonical_solution="n = int(input())\nif n:\n    print(n)\n")
    broken = Problem("c/3", "apps", "interview", "s", TestCases("stdin", ("1",), ("1",)), canonical_solution="if :\n")
    kept, dropped = stage_extract([call, stdin, broken])
    a, b = kept
    assert a.starter_code == "def f(x):\n" and a.metadata["starter_code_found"] is True
    assert [c["kind"] for c in a.conditionals] == ["if", "elif"]
    assert [c.to_dict() for c in find_conditional_statements(sol)] == list(a.conditionals)
    for c in a.conditionals:
        assert sol[c["start_char"]:].startswith(c["kind"])
    assert b.starter_code == "" and len(b.conditionals) == 1
    assert [(d.id, d.stage, d.reason) for d in dropped] == [("c/3", "extract", "extraction failed")]


# ----------------------------------------------------------------------------- stage 5
def _n(pid: str, diff: str, source_split: str = "train") -> Problem:
    return Problem(pid, "apps", diff, "s", TestCases("stdin", ("1",), ("1",)), metadata={"source_split": source_split})


def test_assign_splits_is_deterministic_per_difficulty_and_respects_test() -> None:
    diffs = ["introductory"] * 40 + ["interview"] * 20 + ["competition"] * 2
    probs = [_n(f"apps/train/{i:04d}", d) for i, d in enumerate(diffs)]
    out = assign_splits(probs, seed=3, respect_source_split=False)
    assert [p.id for p in out] == sorted(p.id for p in probs)
    cnt = Counter((p.difficulty, p.split) for p in out)
    assert [cnt["introductory", s] for s in ("train", "validation", "test")] == [20, 10, 10]
    assert (cnt["interview", "train"], cnt["interview", "validation"], cnt["interview", "test"]) == (10, 5, 5)
    assert cnt["competition", "train"] == 1 and sum(v for (d, _), v in cnt.items() if d == "competition") == 2
    # order of the input does not matter, the seed does, and the same seed repeats
    again = assign_splits(list(reversed(probs)), seed=3, respect_source_split=False)
    assert [(p.id, p.split) for p in again] == [(p.id, p.split) for p in out]
    other = assign_splits(probs, seed=4, respect_source_split=False)
    assert [p.split for p in other] != [p.split for p in out]
    # respecting the source: held-out test problems stay in test; the rest is cut 2:1 train:validation
    mixed = probs[:30] + [_n(f"apps/test/{i:04d}", "introductory", "test") for i in range(7)]
    res = Counter((p.metadata["source_split"], p.split) for p in assign_splits(mixed, seed=0))
    assert res == Counter({("train", "train"): 20, ("train", "validation"): 10, ("test", "test"): 7})


def test_split_key_is_stable_across_processes() -> None:
    # sha256 of "seed:id" -- a fixed value, so a salted hash() could not have produced it
    assert cleaning._rank_key(0, "apps/train/0001") == cleaning.hashlib.sha256(b"0:apps/train/0001").hexdigest()
    assert cleaning._counts(1, (0.5, 0.25, 0.25)) == [1, 0, 0] and cleaning._counts(7, (0.5, 0.25, 0.25)) == [4, 2, 1]


# ----------------------------------------------------------------------------- the pipeline
def _defect_tree(root: Path) -> dict[str, tuple[str, str]]:
    """Clean problems of each format plus one problem per known defect; returns id -> (stage, reason)."""
    write_apps_problem(root, "train", "0001")
    write_apps_problem(root, "train", "0002", difficulty="interview",
                       input_output={"inputs": [["2", "3 4"]], "outputs": ["7"]},
                       solutions=["input()\nprint(sum(map(int, input().split())))\n"])
    write_apps_problem(root, "train", "0003", difficulty="competition",
                       input_output={"fn_name": "twice", "inputs": [[1], [5]], "outputs": [[2], [10]]},
                       solutions=["def twice(x):\n    if x < 0:\n        return 0\n    return 2 * x\n"])
    write_apps_problem(root, "train", "0004", difficulty="interview",
                       input_output={"fn_name": "kth", "inputs": [[[2, 3, 4, 7, 11], 5]], "outputs": [9]},
                       solutions=["class Solution:\n    def kth(self, arr: List[int], k: int) -> int:\n"
                                  "        s = set(arr)\n        n = 0\n        while k:\n            n += 1\n"
                                  "            if n not in s:\n                k -= 1\n"
                                  "        return n\n"])
    write_apps_problem(root, "test", "0005", solutions=["print(int(input()) + 3)\n", "print(int(input()) + 1)\n"])
    expect = {f"apps/train/{k}": v[:2] for k, v in DEFECTS.items()}
    for folder, (_, _, kwargs) in DEFECTS.items():
        write_apps_problem(root, "train", folder, **kwargs)
    return expect


def test_clean_apps_catches_every_defect_and_keeps_every_clean_problem(tmp_path, executor) -> None:
    expect = _defect_tree(tmp_path / "apps")
    res = clean_apps(tmp_path / "apps", tmp_path / "out", executor=executor, progress=False)
    assert sorted(p.id for p in res.problems) == ["apps/test/0005"] + [f"apps/train/000{i}" for i in (1, 2, 3, 4)]
    assert {d.id: (d.stage, d.reason) for d in res.dropped} == expect
    assert res.n_input == 5 + len(DEFECTS)
    # every stage's books balance, and the counts reach the report
    for row in res.stage_counts:
        assert row["in"] == row["kept"] + row["dropped"]
    assert [r["stage"] for r in res.stage_counts] == list(STAGES)
    rep = CleaningReport.load(tmp_path / "out" / "report.json")
    assert rep.n_input == res.n_input and rep.n_kept == 5
    assert sum(rep.drops_by_reason().values()) == len(DEFECTS)
    assert rep.drops_by_reason()["missing solutions"] == 2
    assert rep.drops["execute"]["timeout"] == {"introductory": 1}
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| execute | syntax error |" in md and "apps/train/0107" in md
    for name in ("survivors_per_difficulty", "tests_per_problem", "solution_length", "conditionals_per_solution"):
        assert (tmp_path / "out" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    # the APPS+ file: every kept problem, with canonical solution, conditionals, starter code, split
    plus = {p.id: p for p in load_apps_plus(tmp_path / "out" / "apps_plus.jsonl")}
    assert plus == {p.id: p for p in res.problems}
    assert plus["apps/test/0005"].split == "test" and plus["apps/test/0005"].metadata["canonical_index"] == 1
    assert plus["apps/train/0003"].starter_code == "def twice(x):\n"
    assert plus["apps/train/0003"].tests.outputs == (2, 10)
    assert plus["apps/train/0004"].starter_code.startswith("class Solution:\n    def kth(")
    assert all(p.canonical_solution.startswith(p.starter_code) for p in plus.values())
    assert len(plus["apps/train/0003"].conditionals) == 1
    dropped_lines = [json.loads(x) for x in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    assert {d["id"] for d in dropped_lines} == set(expect)
    corrupt = next(d for d in dropped_lines if d["id"].endswith("0100"))
    assert corrupt["detail"].startswith("solutions.json: invalid JSON")


def test_rerun_is_byte_identical(tmp_path, executor) -> None:
    _defect_tree(tmp_path / "apps")
    clean_apps(tmp_path / "apps", tmp_path / "a", executor=executor, progress=False)
    clean_apps(tmp_path / "apps", tmp_path / "b", executor=executor, progress=False, seed=0)
    files_a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files_a == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"apps_plus.jsonl", "dropped.jsonl", "report.json", "report.md"} <= set(files_a)
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert str(tmp_path) not in (tmp_path / "a" / "apps_plus.jsonl").read_text()  # no absolute paths
    # another process, another hash seed, another output folder: the same bytes
    import os
    import subprocess
    import sys

    code = ("import sys; from stepcoder_lib.data import clean_apps; "
            "clean_apps(sys.argv[1], sys.argv[2], workers=2, time_limit_s=1.0, progress=False)")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(repo_root())}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "apps"), str(tmp_path / "c")], check=True, env=env,
                   timeout=300)
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name


def test_a_crash_in_one_problem_drops_only_that_problem(tmp_path, executor, monkeypatch) -> None:
    write_apps_problem(tmp_path, "train", "0001")
    write_apps_problem(tmp_path, "train", "0002")
    real = cleaning.extract

    def flaky(p: Problem) -> Problem:
        if p.id.endswith("0002"):
            raise KeyError("boom")
        return real(p)

    monkeypatch.setattr(cleaning, "extract", flaky)
    res = clean_apps(tmp_path, executor=executor, progress=False)
    assert [p.id for p in res.problems] == ["apps/train/0001"]
    assert [(d.id, d.stage, d.reason) for d in res.dropped] == [("apps/train/0002", "extract", "crash")]


def test_jsonl_source_with_a_repeated_id_and_a_corrupt_line(tmp_path, executor) -> None:
    row = {"problem_id": 1, "question": "Print n + 1.", "difficulty": "interview", "starter_code": "",
           "solutions": json.dumps(["print(int(input()) + 1)"]),
           "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]})}
    lines = [json.dumps(row), json.dumps(row), "{not json", json.dumps({**row, "problem_id": 2})]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    res = clean_apps(tmp_path / "rows.jsonl", split="train", executor=executor, progress=False)
    assert [p.id for p in res.problems] == ["apps/train/0001", "apps/train/0002"]
    assert res.problems[0].statement == "Print n + 1."
    assert [(d.id, d.reason) for d in res.dropped] == [("apps/train/0001", "duplicate id"),
                                                      ("apps/train/line00003", "corrupt file")]
    assert res.n_input == 4


# ----------------------------------------------------------------------------- real APPS
@pytest.mark.realdata
def test_realdata_train5_survives_with_first_solutions_and_test10_dropped(realdata, executor, tmp_path) -> None:
    res = clean_apps(realdata / "apps_train5", tmp_path / "t5", executor=executor, progress=False)
    # 2287 (AtCoder, "If there are multiple ways ..., any of those is accepted") has no unique answer
    assert [(d.id, d.stage, d.reason) for d in res.dropped] == [("apps/train/2287", "answers", "several valid answers")]
    assert [p.id for p in res.problems] == ["apps/train/0001", "apps/train/0111", "apps/train/2404", "apps/train/4184"]
    kept = clean_apps(realdata / "apps_train5", executor=executor, several_answers="keep", progress=False)
    assert [p.id for p in kept.problems] == ["apps/train/0001", "apps/train/0111", "apps/train/2287",
                                             "apps/train/2404", "apps/train/4184"]
    assert kept.dropped == [] and kept.problems[2].metadata["several_answers"] == ["statement: 'any of those'"]
    for p in kept.problems:
        first = json.loads((realdata / "apps_train5" / "train" / p.id[-4:] / "solutions.json").read_text())[0]
        assert p.metadata["canonical_index"] == 0 and p.metadata["time_limit_s"] == 1.0
        assert p.canonical_solution == first.replace("\r\n", "\n")
        assert p.canonical_solution.startswith(p.starter_code) and p.split in ("train", "validation")
    by = {p.id: p for p in kept.problems}
    assert by["apps/train/4184"].metadata["outputs_unwrapped"] is True
    assert by["apps/train/4184"].tests.outputs[0] is False
    assert by["apps/train/2404"].metadata["outputs_unwrapped"] is False and by["apps/train/2404"].tests.outputs == (9,)
    stored = (realdata / "apps_train5/train/2404/starter_code.py").read_text()
    assert by["apps/train/2404"].starter_code == stored.rstrip() + "\n"
    # three of 2287's candidates were written for APPS's harness and are stored wrapped
    assert by["apps/train/2287"].metadata["standardised"]["wrapped_solutions"] == [2, 4, 9]
    res10 = clean_apps(realdata / "apps_test10", executor=executor, progress=False)
    assert res10.problems == [] and len(res10.dropped) == 10
    assert {(d.stage, d.reason, d.source_split, d.split_source) for d in res10.dropped} == {
        ("require", "missing solutions", "test", "folder")}


# ----------------------------------------------------------------------------- the generated benchmark
@pytest.mark.slow
def test_generated_benchmark_every_defect_caught_every_clean_problem_kept(tmp_path, executor) -> None:
    from stepcoder_lib.data.cleaning import DEFECT_REASONS, grade_against_truth
    from stepcoder_lib.data.synthetic.generate import generate_benchmark

    truth = generate_benchmark(tmp_path / "bench", n_train=48, n_test=12, seed=7, defect_rate=0.25, progress=False)
    kinds = Counter(r["defect"] for r in truth["problems"].values())
    assert set(kinds) == {"clean", *DEFECT_REASONS}, kinds  # every defect kind is exercised
    res = clean_apps(tmp_path / "bench", tmp_path / "out", executor=executor, progress=False)
    assert res.source_name == "bench" and all(p.id.startswith("bench/") for p in res.problems)
    grade = grade_against_truth(res, truth)
    assert grade["not_in_run"] == []
    assert grade["missed_defects"] == [] and grade["defects_caught"] == 1.0
    assert grade["lost_clean"] == [] and grade["clean_kept"] == 1.0
    assert grade["wrong_reason"] == [], grade["confusion"]
    assert grade["n_defects"] == sum(v for k, v in kinds.items() if k != "clean") == len(res.dropped)
    # clean problems with wrong solutions listed first keep the first one that passes
    for pid, rec in truth["problems"].items():
        want = rec["detail"].get("first_passing_solution") if rec["defect"] == "clean" else None
        if want:
            (p,) = [p for p in res.problems if p.id == f"bench/{rec['split']}/{pid}"]
            assert p.metadata["canonical_index"] == want
    # the generator's own test split stays the held-out test split
    assert {p.split for p in res.problems if "/test/" in p.id} == {"test"}
    assert {p.split for p in res.problems if "/train/" in p.id} == {"train", "validation"}
    # call-based outputs (the generator wraps them as APPS does) come out unwrapped and exact
    calls = [p for p in res.problems if p.format == "call"]
    assert calls and all(p.metadata["outputs_unwrapped"] is True for p in calls)
    assert all(p.starter_code and p.canonical_solution.startswith(p.starter_code) for p in calls)
