"""CCCS: conditional-statement finder, stage formulas, Algorithm 1, checkpointing."""

from __future__ import annotations

import ast
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from program_strategies import programs

from stepcoder_lib.data.conditionals import ALL_KINDS, DEFAULT_KINDS, ConditionalStatement, find_conditional_statements
from stepcoder_lib.method.curriculum import Curriculum, n_stages, plan_stages, stride
from stepcoder_lib.settings.profiles import CCCSConfig

SOLUTION = (
    "s = input()  # naïve €\n"           # line 1
    "n = len(s)\n"                        # 2
    "if n > 3: print('grand')\n"          # 3  if
    "elif n == 3:\n"                      # 4  elif
    "    print('égal')\n"                 # 5
    "else:\n"                             # 6
    "    if s == 'ü':\n"                  # 7  if (inside else, not an elif)
    "        print('ü')\n"                # 8
    "for c in s:\n"                       # 9  for
    "    x = 'ok' if c else 'no'\n"       # 10 ifexp
    "    while False:\n"                  # 11 while
    "        pass\n"                      # 12
)


def test_finder_default_kinds_exact_positions() -> None:
    found = find_conditional_statements(SOLUTION)
    assert [c.kind for c in found] == ["if", "elif", "if"]
    first, elif_, inner = found
    assert SOLUTION[first.start_char:].startswith("if n > 3")
    assert (first.start_line, first.end_line) == (3, 8)
    assert SOLUTION[first.start_char:first.end_char].endswith("print('ü')")
    assert SOLUTION[elif_.start_char:].startswith("elif n == 3:") and elif_.start_line == 4
    assert SOLUTION[inner.start_char:inner.end_char] == "if s == 'ü':\n        print('ü')"
    assert (inner.start_line, inner.end_line) == (7, 8)
    assert DEFAULT_KINDS == ("if", "elif")


def test_finder_all_kinds_and_char_offsets_are_characters_not_bytes() -> None:
    found = find_conditional_statements(SOLUTION, kinds=ALL_KINDS)
    assert [c.kind for c in found] == ["if", "elif", "if", "for", "ifexp", "while"]
    ifexp = found[4]
    assert SOLUTION[ifexp.start_char:ifexp.end_char] == "'ok' if c else 'no'"
    # the line holds non-ASCII text before the cut on line 1 only; byte offsets would drift here
    assert SOLUTION[found[0].start_char - 1] == "\n"
    only_loops = find_conditional_statements(SOLUTION, kinds=("for", "while"))
    assert [c.kind for c in only_loops] == ["for", "while"]


def test_finder_non_ascii_on_the_same_line_and_crlf() -> None:
    src = "é = 'ñ€'; x = 1\r\nz = 'ü' if é else 'ö'\r\nif x: y = 'ß'\r\n"
    found = find_conditional_statements(src, kinds=("if", "ifexp"))
    assert [src[c.start_char:c.end_char] for c in found] == ["'ü' if é else 'ö'", "if x: y = 'ß'"]
    assert [c.start_line for c in found] == [2, 3]


def test_finder_rejects_bad_input() -> None:
    with pytest.raises(SyntaxError):
        find_conditional_statements("if x\n    pass\n")
    with pytest.raises(ValueError, match="unknown kinds"):
        find_conditional_statements("x = 1\n", kinds=("if", "switch"))


def test_conditional_statement_dict_round_trip() -> None:
    for c in find_conditional_statements(SOLUTION, ALL_KINDS):
        d = json.loads(json.dumps(c.to_dict()))
        assert ConditionalStatement.from_dict(d) == c


@settings(max_examples=60, deadline=None)
@given(programs())
def test_finder_on_generated_programs(prog) -> None:
    source, counts = prog
    for kinds in (DEFAULT_KINDS, ("for", "while", "try")):
        found = find_conditional_statements(source, kinds)
        assert len(found) == sum(counts.kinds[k] for k in kinds)
        assert [c.start_char for c in found] == sorted(c.start_char for c in found)
        for c in found:
            assert source[c.start_char:].startswith(c.kind)
            assert source.count("\n", 0, c.start_char) + 1 == c.start_line
            assert source.count("\n", 0, c.end_char) + 1 == c.end_line
    # oracle for char offsets: the stdlib's own segment extraction
    ifs = (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.If))
    nodes = sorted(ifs, key=lambda n: (n.lineno, n.col_offset))
    segs = [ast.get_source_segment(source, n) for n in nodes]
    assert [source[c.start_char:c.end_char] for c in find_conditional_statements(source)] == segs


@given(st.integers(0, 5000))
def test_stage_count_and_stride_formulas(e: int) -> None:
    k = max(1, math.ceil(math.sqrt(e)))
    assert n_stages(e) == k
    assert stride(e) == (math.ceil(e / k) if e else 0)
    assert stride(e) * (k - 1) < max(e, 1)  # the deepest stage's statement exists


@settings(max_examples=60, deadline=None)
@given(programs())
def test_plan_cuts_at_statement_number_stride_times_stage(prog) -> None:
    source, _ = prog
    conds = find_conditional_statements(source)
    plan = plan_stages(source)
    assert plan.n_conditionals == len(conds)
    assert plan.n_stages == n_stages(len(conds)) and plan.stride == stride(len(conds))
    assert plan.cuts[0] == 0
    for c in range(1, plan.n_stages):
        assert plan.cuts[c] == conds[plan.stride * c - 1].start_char
    assert list(plan.cuts) == sorted(plan.cuts)
    line_plan = plan_stages(source, CCCSConfig(cut_at_line_start=True))
    for c in range(1, plan.n_stages):
        assert line_plan.cuts[c] <= plan.cuts[c] and source[line_plan.cuts[c] - 1] == "\n"
        assert source[line_plan.cuts[c]:plan.cuts[c]].strip() == ""


def test_prompt_prefix_and_program() -> None:
    cur = Curriculum({"p": SOLUTION})  # E = 3: 2 stages, stride 2
    assert cur.plans["p"].n_stages == 2 and cur.plans["p"].stride == 2 and cur.stage("p") == 1
    prefix = cur.prefix_for("p")
    assert prefix == SOLUTION[: SOLUTION.index("elif n == 3")]  # statement number stride*1 = 2: the elif
    assert cur.prompt_for("p", "TASK\n") == "TASK\n" + prefix
    assert cur.program_for("p", SOLUTION[len(prefix):]) == SOLUTION
    assert cur.prefix_for("p", stage=0) == ""
    with pytest.raises(ValueError):
        cur.prefix_for("p", stage=2)
    with pytest.raises(KeyError, match="not in the curriculum"):
        cur.stage("nope")
    assert Curriculum({"flat": "print(1)\n"}).stage("flat") == 0  # E = 0: only stage 0
    assert Curriculum({"one": "if 1:\n    pass\n"}).stage("one") == 0  # E = 1: ceil(sqrt(1)) - 1 = 0


def _reference_algorithm_1(e: int, passes: list[bool], alpha: float, rho_t: float) -> list[int]:
    """Algorithm 1 written out independently, one rollout at a time."""
    c, rho, stages = max(1, math.ceil(math.sqrt(e))) - 1, 0.0, []
    for ok in passes:
        rho = alpha + (1 - alpha) * rho if ok else (1 - alpha) * rho
        if rho > rho_t:
            rho, c = 0.0, max(c - 1, 0)
        stages.append(c)
    return stages


def test_default_thresholds_need_sixteen_passes_in_a_row() -> None:
    src = "\n".join(f"if x == {i}:\n    y = {i}" for i in range(16)) + "\n"  # E = 16: 4 stages
    cur = Curriculum({"p": src})
    assert cur.stage("p") == 3
    assert cur.update(["p"] * 15, [True] * 15) == {} and cur.stage("p") == 3
    assert cur.update(["p"], [True]) == {"p": 2} and cur.rho("p") == 0.0
    cur.update(["p"] * 15 + ["p"], [True] * 15 + [False])  # a failure at the end keeps it below
    assert cur.stage("p") == 2 and 0 < cur.rho("p") < 0.8


@settings(max_examples=80, deadline=None)
@given(e=st.integers(0, 40), passes=st.lists(st.booleans(), max_size=300),
       alpha=st.floats(0.05, 1.0), rho_t=st.floats(0.0, 0.95))
def test_update_matches_algorithm_1_and_only_moves_toward_zero(e, passes, alpha, rho_t) -> None:
    src = "".join(f"if v == {i}:\n    w = {i}\n" for i in range(e))
    cur = Curriculum({"p": src}, CCCSConfig(alpha=alpha, rho_threshold=rho_t))
    expected = _reference_algorithm_1(e, passes, alpha, rho_t)
    seen = [cur.stage("p")]
    for ok in passes:
        cur.update(["p"], [ok])
        seen.append(cur.stage("p"))
        assert 0.0 <= cur.rho("p") <= 1.0
    assert seen[1:] == expected
    assert all(b in (a, a - 1) for a, b in zip(seen, seen[1:])) and min(seen) >= 0


def test_rollouts_apply_in_order_and_stale_stage_results_are_skipped() -> None:
    src = "".join(f"if v == {i}:\n    w = {i}\n" for i in range(9))  # E = 9: 3 stages
    a = Curriculum({"p": src, "q": src}, CCCSConfig(alpha=0.5, rho_threshold=0.7))
    # p: 0.5, 0.75 -> move to stage 1 (rho 0); the third result was generated at stage 2: skipped
    moved = a.update(["p", "q", "p", "p"], [True, False, True, True], stages=[2, 2, 2, 2])
    assert moved == {"p": 1} and a.stage("p") == 1 and a.rho("p") == 0.0 and a.stage("q") == 2
    b = Curriculum({"p": src}, CCCSConfig(alpha=0.5, rho_threshold=0.7))
    b.update(["p", "p", "p"], [True, True, True])  # without stages every result counts
    assert b.stage("p") == 1 and b.rho("p") == 0.5
    with pytest.raises(ValueError):
        a.update(["p"], [True, False])


@settings(max_examples=40, deadline=None)
@given(prog=programs(), passes=st.lists(st.booleans(), max_size=80))
def test_state_save_load_round_trip(tmp_path_factory, prog, passes) -> None:
    source, _ = prog
    cfg = CCCSConfig(alpha=0.3, rho_threshold=0.5)
    cur = Curriculum({"x": source, "y": SOLUTION}, cfg)
    cur.update(["x" if i % 3 else "y" for i in range(len(passes))], passes)
    path = tmp_path_factory.mktemp("cur") / "state.json"
    cur.save(path)
    fresh = Curriculum({"x": source, "y": SOLUTION}, cfg)
    fresh.load(path)
    assert fresh.state_dict() == cur.state_dict()
    assert fresh.prefix_for("x") == cur.prefix_for("x")
    # resuming behaves exactly as never stopping
    cur.update(["x", "y"] * 5, [True] * 10)
    fresh.update(["x", "y"] * 5, [True] * 10)
    assert fresh.state_dict() == cur.state_dict()


def test_load_refuses_mismatched_state() -> None:
    cur = Curriculum({"p": SOLUTION})
    with pytest.raises(KeyError, match="mismatch"):
        Curriculum({"p": SOLUTION, "q": SOLUTION}).load_state_dict(cur.state_dict())
    other = Curriculum({"p": "".join(f"if v == {i}:\n    w = {i}\n" for i in range(9))})
    with pytest.raises(ValueError, match="stages"):
        other.load_state_dict(cur.state_dict())
    partial = Curriculum({"p": SOLUTION, "q": SOLUTION})
    partial.load_state_dict({"problems": {"p": {"stage": 0, "rho": 0.25, "n_stages": 2}}}, strict=False)
    assert (partial.stage("p"), partial.rho("p"), partial.stage("q")) == (0, 0.25, 1)


def test_update_distributed_is_local_without_process_group() -> None:
    a, b = Curriculum({"p": SOLUTION}), Curriculum({"p": SOLUTION})
    a.update_distributed(["p"] * 20, [True] * 20)
    b.update(["p"] * 20, [True] * 20)
    assert a.state_dict() == b.state_dict() and a.stage("p") == 0


def test_a_bad_setting_is_refused_by_its_profile_key_and_kinds_are_the_curriculums() -> None:
    with pytest.raises(ValueError, match=r"rl.cccs.alpha=0.0: set it in \(0, 1\]"):
        CCCSConfig(alpha=0.0)
    with pytest.raises(ValueError, match=r"rl.cccs.rho_threshold=1.0: set it in \[0, 1\)"):
        CCCSConfig(rho_threshold=1.0)
    cur = Curriculum({"p": SOLUTION}, kinds=["if"])
    assert cur.kinds == ("if",) and cur.state_dict()["config"]["kinds"] == ["if"]


def test_a_pass_counts_from_the_verdict_not_the_reward_value() -> None:
    """With ``RewardTable(passed=0.5)`` a reward-valued test would never see a pass: every stage would freeze."""
    from stepcoder_lib.executor.verdicts import ExecutionResult, Verdict
    from stepcoder_lib.method.reward import RewardTable

    src = "".join(f"if v == {i}:\n    w = {i}\n" for i in range(9))  # E = 9: 3 stages, start at 2
    table = RewardTable(passed=0.5)
    results = [ExecutionResult("p", Verdict.PASSED) for _ in range(16)]
    cur = Curriculum({"p": src})
    assert cur.update(["p"] * 16, results) == {"p": 1}  # 16 passes in a row move one stage
    by_verdict = Curriculum({"p": src})
    by_verdict.update(["p"] * 16, [Verdict.PASSED] * 16)
    assert by_verdict.state_dict() == cur.state_dict()
    failed = Curriculum({"p": src})
    failed.update(["p"] * 16, [ExecutionResult("p", Verdict.WRONG_ANSWER)] * 16)  # a wrong answer is no pass
    assert failed.stage("p") == 2 and failed.rho("p") == 0.0
    with pytest.raises(TypeError, match="not float"):
        cur.update(["p"], [table(Verdict.PASSED)])  # the reward itself is refused
