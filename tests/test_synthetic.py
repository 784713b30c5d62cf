"""The offline benchmark: determinism, correct canonical solutions, branch coverage, tiers,
held-out novelty, and injected defects that really are defective (judged by the real executor)."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
from data_helpers import first_stdin_composition

from stepcoder_lib.data.conditionals import find_conditional_statements
from stepcoder_lib.data.synthetic.compose import (
    IF_BANDS,
    TIERS,
    comp_constants,
    count_ifs,
    render_program,
    source_names,
)
from stepcoder_lib.data.synthetic.defects import DEFECT_KINDS, alter_stdout, alter_value
from stepcoder_lib.data.synthetic.generate import (
    SIZES,
    benchmark_stats,
    build_truth,
    generate_benchmark,
    generate_problems,
    load_truth,
    truth_by_problem_id,
)
from stepcoder_lib.data.synthetic.text import NUM_WORDS, render_statement
from stepcoder_lib.executor import Job, Verdict
from stepcoder_lib.executor.testcases import TestCases
from stepcoder_lib.settings.paths import repo_root

REPO = repo_root()
N_TRAIN, N_TEST, SEED, RATE = 36, 12, 7, 0.25  # 9 train defects: every kind at least once


@pytest.fixture(scope="module")
def problems() -> list[dict[str, Any]]:
    return generate_problems(N_TRAIN, N_TEST, seed=SEED, defect_rate=RATE)


def clean_tests(p: dict[str, Any]) -> TestCases:
    """The true tests, unwrapped (what the canonical solution returns)."""
    t = p["tests"]
    fmt = "stdin" if p["format"] == "stdin" else "call"
    return TestCases(fmt, tuple(t["inputs"]), tuple(t["outputs"]), fn_name=p["fn_name"])


def written_tests(p: dict[str, Any]) -> TestCases:
    """The tests as written to input_output.json (call outputs wrapped in a list, as in APPS)."""
    io_ = p["input_output"]
    if "fn_name" in io_:
        return TestCases("call", tuple(io_["inputs"]), tuple(io_["outputs"]), fn_name=io_["fn_name"])
    return TestCases("stdin", tuple(io_["inputs"]), tuple(io_["outputs"]))


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


# ----------------------------------------------------------------------------- determinism
def test_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    code = (
        "import sys; from stepcoder_lib.data.synthetic.generate import generate_benchmark; "
        "generate_benchmark(sys.argv[1], n_train=30, n_test=10, seed=11, defect_rate=0.2, progress=False)"
    )
    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"run{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, cwd=REPO, timeout=120)
        digests.append(tree_digest(out))
    assert digests[0] == digests[1]
    assert len(list((tmp_path / "run1" / "train").iterdir())) == 30


def test_seed_changes_problems() -> None:
    a = generate_problems(10, 0, seed=0, defect_rate=0)
    b = generate_problems(10, 0, seed=1, defect_rate=0)
    assert [p["question"] for p in a] != [p["question"] for p in b]
    assert [p["question"] for p in a] == [p["question"] for p in generate_problems(10, 0, seed=0, defect_rate=0)]


# ----------------------------------------------------------------------------- layout and truth
def test_apps_layout_and_truth(tmp_path: Path) -> None:
    truth = generate_benchmark(tmp_path, n_train=24, n_test=8, seed=2, defect_rate=0.25, progress=False)
    assert truth == load_truth(tmp_path)
    recs = truth["problems"]
    assert sorted(recs) == [f"{i:05d}" for i in range(32)]
    for pid, r in recs.items():
        folder = tmp_path / r["split"] / pid
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["difficulty"] == r["difficulty"] in TIERS
        assert (folder / "question.txt").read_text().strip()
        has_io, has_sol = (folder / "input_output.json").exists(), (folder / "solutions.json").exists()
        assert has_io or (r["defect"] == "missing_outputs" and r["detail"]["variant"] == "no_file")
        assert has_sol or (r["defect"] == "missing_solution" and r["detail"]["variant"] == "no_file")
        assert (folder / "starter_code.py").exists() == (r["format"] != "stdin")
        if has_io and r["format"] != "stdin" and r["defect"] != "missing_outputs":
            io_ = json.loads((folder / "input_output.json").read_text())
            assert io_["fn_name"] and all(isinstance(o, list) and len(o) == 1 for o in io_["outputs"])
    assert truth_by_problem_id(truth)["bench/train/00000"] == recs["00000"]["defect"]
    # the data engineer's folder reader recognises the benchmark by its truth.json
    from stepcoder_lib.data.apps import read_apps_folder

    raws = read_apps_folder(tmp_path)
    assert len(raws) == 32 and {r.source for r in raws} == {"bench"}


def test_defect_shares_are_exact(problems: list[dict[str, Any]]) -> None:
    truth = build_truth(problems, {})
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        counts = truth["counts"][split]
        assert sum(counts.values()) == n
        assert n - counts["clean"] == round(RATE * n)
    train = truth["counts"]["train"]
    per_kind = [train[k] for k in DEFECT_KINDS]
    assert min(per_kind) >= 1 and max(per_kind) - min(per_kind) <= 1
    assert all(p["defect"] == "clean" for p in generate_problems(12, 4, seed=1, defect_rate=0.0))
    with pytest.raises(ValueError):
        generate_problems(4, 0, defect_kinds=("no_such_kind",))


# ----------------------------------------------------------------------------- solutions are right
def test_every_reference_solution_passes_and_first_passing_is_recorded(problems, executor) -> None:
    """All reference solutions pass their true tests; for clean problems the written files agree:
    earlier (wrong) solutions fail and the recorded one is the first that passes."""
    jobs, what = [], []
    for p in problems:
        jobs.append(Job(p["reference_solution"], clean_tests(p), p["id"]))
        what.append((p, "reference", None))
        if p["defect"] == "clean":
            for k, sol in enumerate(p["solutions"]):
                jobs.append(Job(sol, written_tests(p), p["id"]))
                what.append((p, "written", k))
    results = executor.run_batch(jobs, progress=False)
    n_wrong_first = 0
    for (p, kind, k), r in zip(what, results):
        if kind == "reference":
            assert r.passed, r.summary()
            continue
        first = p["defect_detail"].get("first_passing_solution", 0)
        if k < first:
            n_wrong_first += 1
            assert r.verdict == Verdict.WRONG_ANSWER, r.summary()
        else:
            assert k == first and r.passed, r.summary()
    assert n_wrong_first >= 1  # the fixture has clean problems whose first solution is wrong


def test_every_if_goes_both_ways_in_process(problems) -> None:
    """Independent of the generator's instrumentation: trace line arcs with sys.settrace."""
    for p in problems:
        if p["defect"] != "clean":
            continue
        src = p["reference_solution"]
        arcs: set[tuple[int, int]] = set()
        for inp in p["tests"]["inputs"]:
            arcs |= _traced_arcs(src, p, inp)
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.If):
                continue
            outs = {b for a, b in arcs if a == node.lineno}
            true_line = node.body[0].lineno
            assert true_line in outs, f"{p['id']}: line {node.lineno} never true\n{src}"
            if node.orelse:
                assert node.orelse[0].lineno in outs, f"{p['id']}: line {node.lineno} never false\n{src}"
            else:
                assert outs - {true_line}, f"{p['id']}: line {node.lineno} never false\n{src}"


def _traced_arcs(src: str, p: dict[str, Any], inp: Any) -> set[tuple[int, int]]:
    code = compile(src, "<bench-solution>", "exec")
    arcs: set[tuple[int, int]] = set()

    def global_tracer(frame, event, _arg):
        if frame.f_code.co_filename != "<bench-solution>":
            return None
        last = [-frame.f_lineno]

        def tracer(fr, ev, _a):
            if ev == "line":
                arcs.add((last[0], fr.f_lineno))
                last[0] = fr.f_lineno
            elif ev == "return":
                arcs.add((last[0], -1))
            return tracer

        return tracer

    g: dict[str, Any] = {"__name__": "__main__"}
    out = io.StringIO()
    sys.settrace(global_tracer)
    try:
        if p["format"] == "stdin":
            old_stdin = sys.stdin
            sys.stdin = io.StringIO(inp)
            try:
                with contextlib.redirect_stdout(out):
                    exec(code, g)
            finally:
                sys.stdin = old_stdin
        else:
            exec(code, g)
            fn = getattr(g["Solution"](), p["fn_name"]) if p["format"] == "class" else g[p["fn_name"]]
            fn(*json.loads(json.dumps(inp)))
    finally:
        sys.settrace(None)
    return arcs


def test_every_arm_executes_under_executor_coverage(problems, cov_executor) -> None:
    """What FGO will see: each if/elif/else arm's first line is among the executed lines."""
    clean = [p for p in problems if p["defect"] == "clean"]
    results = cov_executor.run_batch(
        [Job(p["reference_solution"], clean_tests(p), p["id"]) for p in clean], progress=False
    )
    for p, r in zip(clean, results):
        assert r.passed, r.summary()
        for node in ast.walk(ast.parse(p["reference_solution"])):
            if isinstance(node, ast.If):
                assert node.body[0].lineno in r.executed_lines, p["id"]
                if node.orelse:
                    assert node.orelse[0].lineno in r.executed_lines, p["id"]


# ----------------------------------------------------------------------------- tiers and statements
def test_tiers_are_ordered_by_length_and_branching() -> None:
    ps = generate_problems(90, 0, seed=4, defect_rate=0)
    stats = benchmark_stats(ps)
    for key in ("conditionals", "lines", "words"):
        means = [stats[t][key]["mean"] for t in TIERS]
        assert means[0] < means[1] < means[2], (key, means)
    assert stats["introductory"]["lines"]["max"] < stats["competition"]["lines"]["median"]
    for p in ps:
        lo, hi = IF_BANDS[p["difficulty"]]
        conds = find_conditional_statements(p["reference_solution"])  # CCCS's own count
        assert lo <= len(conds) == p["stats"]["conditionals"] <= hi
        assert 10 <= p["stats"]["tests"] <= 15
        ins = [json.dumps(x) for x in p["tests"]["inputs"]]
        assert len(set(ins)) == len(ins)
        if p["difficulty"] == "competition":
            assert _has_nested_if(p["reference_solution"]), p["reference_solution"]


def _has_nested_if(src: str) -> bool:
    """An ``if`` inside an if/elif/else arm (an ``elif`` itself does not count as nesting)."""
    lines = src.splitlines()
    for n in ast.walk(ast.parse(src)):
        if isinstance(n, ast.If):
            if any(isinstance(c, ast.If) for c in n.body):
                return True
            if any(isinstance(c, ast.If) and not lines[c.lineno - 1].lstrip().startswith("elif") for c in n.orelse):
                return True
    return False


def test_call_based_problems_look_like_apps(problems) -> None:
    for p in problems:
        if p["format"] == "stdin":
            assert p["starter_code"] == "" and p["fn_name"] is None
            continue
        assert p["reference_solution"].startswith(p["starter_code"]) and p["fn_name"] in p["starter_code"]
        assert (p["format"] == "class") == p["starter_code"].startswith("class Solution:")
        io_ = p["clean_input_output"]
        assert io_["fn_name"] == p["fn_name"] and io_["outputs"] == [[o] for o in p["tests"]["outputs"]]


def _mentions(question: str, n: int) -> bool:
    words = [NUM_WORDS[n]] if 0 <= n <= 10 else []
    words += ["twice"] if n == 2 else []
    return bool(re.search(rf"(?<![\d]){abs(n)}(?!\d)", question)) or any(
        re.search(rf"\b{w}\b", question) for w in words
    )


def _thresholds(comp: Any) -> set[int]:
    found: set[int] = set()

    def walk(x: Any) -> None:
        if isinstance(x, list) and len(x) == 2 and x[0] in ("lt", "le", "gt", "ge") and isinstance(x[1], int):
            found.add(x[1])
        elif isinstance(x, list):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)

    walk(comp)
    return found


def test_statement_states_every_constant_and_label(problems) -> None:
    """The code is determined by the text: thresholds, factors, labels and letters all appear."""
    for p in problems:
        comp, q = p["composition"], p["question"]
        ints, letters = comp_constants(comp)
        cuts = _thresholds(comp)
        for n in ints:  # range wording states "x <= 9" as "x is from ... to 9" or "x < 10"
            assert _mentions(q, n) or (n in cuts and (_mentions(q, n + 1) or _mentions(q, n - 1))), (p["id"], n, q)
        for ch in letters:
            assert f"'{ch}'" in q, (p["id"], ch, q)
        for lab in re.findall(r'"([^"]+)"', p["reference_solution"]):
            assert f'"{lab}"' in q, (p["id"], lab, q)


def test_wording_varies_for_one_composition() -> None:
    """The same logic renders to many different statements (the model must read, not match ids)."""
    for tier in TIERS:
        comp, names = first_stdin_composition(tier)
        texts = {render_statement(random.Random(i), comp, "stdin", names, None, None) for i in range(20)}
        assert len(texts) >= 10, tier


# ----------------------------------------------------------------------------- held-out novelty
def test_test_split_is_novel() -> None:
    ps = generate_problems(240, 60, seed=9, defect_rate=0)
    train = [p for p in ps if p["split"] == "train"]
    test = [p for p in ps if p["split"] == "test"]
    assert len(test) == 60
    assert not {p["signature"] for p in train} & {p["signature"] for p in test}

    def normalised(p: dict[str, Any]) -> str:  # same logic in one I/O form and one set of names
        comp = p["composition"]
        return render_program(comp, "stdin", source_names(comp["src"]["kind"], "stdin", random.Random(0)), None)

    assert not {normalised(p) for p in train} & {normalised(p) for p in test}
    assert len({p["signature"] for p in ps}) == len(ps)  # no duplicates within a split either


# ----------------------------------------------------------------------------- defects
def test_injected_defects_are_defective(problems, executor) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in DEFECT_KINDS}
    for p in problems:
        if p["defect"] != "clean":
            by_kind[p["defect"]].append(p)
    assert all(by_kind.values()), {k: len(v) for k, v in by_kind.items()}
    jobs, checks = [], []
    for p in by_kind["missing_outputs"]:
        io_ = p["input_output"]
        assert io_ is None or not io_ or len(io_.get("outputs", [])) < len(io_.get("inputs", []))
    for p in by_kind["missing_solution"]:
        assert not p["solutions"]
    for p in by_kind["syntax_error"]:
        for sol in p["solutions"]:
            jobs.append(Job(sol, clean_tests(p), p["id"]))
            checks.append(lambda r: r.verdict == Verdict.COMPILE_ERROR)
    for p in by_kind["missing_import"]:
        for sol in p["solutions"]:
            jobs.append(Job(sol, clean_tests(p), p["id"]))
            checks.append(
                lambda r: r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "ModuleNotFoundError"
            )
    for p in by_kind["wrong_output"]:
        j = p["defect_detail"]["test"]
        jobs.append(Job(p["solutions"][0], written_tests(p), p["id"]))
        checks.append(
            lambda r, j=j: (
                r.verdict == Verdict.WRONG_ANSWER
                and [t.index for t in r.tests if t.verdict == Verdict.WRONG_ANSWER] == [j]
            )
        )
    for p in by_kind["timeout"]:
        assert p["defect_detail"]["hanging_tests"]
        jobs.append(Job(p["solutions"][0], clean_tests(p), p["id"], time_limit_s=0.5))
        checks.append(lambda r: r.verdict == Verdict.TIMEOUT)
        fast = [i for i in range(len(p["tests"]["inputs"])) if i not in p["defect_detail"]["hanging_tests"]]
        if fast:  # on the other inputs the slow solution is still right
            t = clean_tests(p)
            sub = TestCases(t.format, tuple(t.inputs[i] for i in fast), tuple(t.outputs[i] for i in fast), t.fn_name)
            jobs.append(Job(p["solutions"][0], sub, p["id"]))
            checks.append(lambda r: r.passed)
    # the alteration is caught on both paths (stdin text and call values), whatever the fixture drew
    for p in [q for q in problems if q["defect"] == "clean"][:8]:
        t = clean_tests(p)
        rng = random.Random(p["id"])
        j = rng.randrange(len(t.outputs))
        bad = alter_stdout(rng, t.outputs[j]) if t.format == "stdin" else [alter_value(rng, t.outputs[j])]
        outs = tuple(o if i != j else bad for i, o in enumerate(t.outputs))
        jobs.append(Job(p["reference_solution"], TestCases(t.format, t.inputs, outs, t.fn_name), p["id"]))
        checks.append(lambda r, j=j: [x.index for x in r.tests if x.verdict == Verdict.WRONG_ANSWER] == [j])
    assert {q["format"] for q in problems if q["defect"] == "clean"} >= {"stdin", "call", "class"}
    results = executor.run_batch(jobs, progress=False)
    for job, check, r in zip(jobs, checks, results):
        assert check(r), f"{r.summary()}\n{job.program}"


# ----------------------------------------------------------------------------- size and speed
def test_profiles_and_generation_speed() -> None:
    assert SIZES["tiny"]["n_train"] >= 2000 and SIZES["smoke"]["n_train"] <= 64
    smoke = generate_problems(**SIZES["smoke"])
    assert {p["defect"] for p in smoke if p["split"] == "train"} == {"clean", *DEFECT_KINDS}
    t0 = time.process_time()
    ps = generate_problems(350, 0, seed=12, defect_rate=0.1)
    cpu = time.process_time() - t0
    assert len(ps) == 350
    assert cpu < 12.0, f"{cpu:.1f} CPU s for 350 problems: the tiny profile (3500) would not take well under a minute"
    assert mean(p["stats"]["words"] for p in ps) > 40


def test_if_bands_scale_the_tiers_down_and_bad_bands_are_named() -> None:
    bands = {"introductory": (0, 1), "interview": (2, 3), "competition": (4, 6)}
    problems = generate_problems(n_train=30, n_test=6, seed=2, defect_rate=0.0, if_bands=bands)
    for p in problems:
        lo, hi = bands[p["difficulty"]]
        assert lo <= count_ifs(p["reference_solution"]) <= hi, (p["id"], p["difficulty"])
    assert {p["difficulty"] for p in problems} == set(bands)
    with pytest.raises(ValueError, match="if_bands\\['interview'\\]"):
        generate_problems(n_train=3, n_test=0, if_bands={"interview": (4, 2)})
    with pytest.raises(ValueError, match="if_bands\\['hard'\\]"):
        generate_problems(n_train=3, n_test=0, if_bands=(("hard", (1, 2)),))
