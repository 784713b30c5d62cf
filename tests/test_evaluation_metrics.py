"""pass@k against exact enumeration, the per-difficulty table, and Figure 4's breakdown on real verdicts."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from eval_helpers import synthetic_test_problems

from stepcoder_lib.results.evaluation import (
    EvalSettings,
    failure_breakdown,
    family,
    judge_completions,
    pass_at_k,
    pass_at_k_table,
    select_problems,
)
from stepcoder_lib.results.prompts import PromptFormat
from stepcoder_lib.settings.profiles import get_profile


def enumerated_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of the n samples (c of them correct) that hold a correct one."""
    correct = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(correct[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 8))
def test_pass_at_k_equals_exact_enumeration_of_k_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, [c], k)[0] == pytest.approx(enumerated_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_1_is_the_share_of_correct_samples():
    assert pass_at_k([10, 4], [3, 0], 1).tolist() == pytest.approx([0.3, 0.0])


def _records(per_problem: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """Sample records for (problem id, difficulty, n samples, c correct)."""
    rows = []
    for pid, diff, n, c in per_problem:
        for j in range(n):
            rows.append({"problem_id": pid, "difficulty": diff, "sample": j, "passed": j < c,
                         "verdict": "passed" if j < c else "wrong_answer"})
    return pd.DataFrame(rows)


def test_table_per_difficulty_and_overall_is_the_mean_over_problems():
    spec = [("a", "introductory", 4, 2), ("b", "introductory", 4, 0), ("c", "interview", 4, 1),
            ("d", "competition", 4, 4), ("e", "interview", 4, 3)]
    table = pass_at_k_table(_records(spec), (1, 2, 4))
    assert list(table.index) == ["introductory", "interview", "competition", "overall"]
    for k in (1, 2, 4):
        for name in ("introductory", "interview", "competition"):
            expected = [enumerated_pass_at_k(n, c, k) for _, d, n, c in spec if d == name]
            assert table.loc[name, f"pass@{k}"] == pytest.approx(100 * sum(expected) / len(expected))
        overall = [enumerated_pass_at_k(n, c, k) for _, _, n, c in spec]
        assert table.loc["overall", f"pass@{k}"] == pytest.approx(100 * sum(overall) / len(overall))
    assert table.loc["overall", "problems"] == 5 and table.loc["interview", "problems"] == 2


def test_table_gives_nan_not_a_number_when_k_exceeds_the_samples():
    table = pass_at_k_table(_records([("a", "introductory", 2, 1)]), (1, 4))
    assert table.loc["overall", "pass@1"] == 50.0 and math.isnan(table.loc["overall", "pass@4"])


def test_settings_follow_the_profile_and_refuse_impossible_combinations():
    paper = EvalSettings.from_profile(get_profile("paper"))
    assert (paper.temperature, paper.top_p, paper.greedy) == (0.2, 0.95, False)  # the paper's pass@1 decoding
    greedy = EvalSettings.from_profile(get_profile("tiny"), greedy=True)
    assert (greedy.n_samples, greedy.ks) == (1, (1,)) and "temperature" not in greedy.decoding()
    with pytest.raises(ValueError, match="greedy"):
        EvalSettings(n_samples=4, ks=(1,), greedy=True)
    with pytest.raises(ValueError, match="k="):
        EvalSettings(n_samples=2, ks=(1, 5))


def test_select_problems_keeps_each_tier_share_and_is_deterministic():
    problems = synthetic_test_problems(40)
    picked = select_problems(problems, 10, seed=3)
    assert len(picked) == 10 and picked == select_problems(problems, 10, seed=3)
    assert [p.id for p in picked] == sorted(p.id for p in picked)  # input order kept
    share = {d: sum(p.difficulty == d for p in problems) / len(problems) for d in {p.difficulty for p in problems}}
    for d, s in share.items():
        assert abs(sum(p.difficulty == d for p in picked) - 10 * s) < 1, d
    assert select_problems(problems, None) == problems


RAW = PromptFormat("raw", lambda p: "", lambda p, prompt, completion: completion)


def _bad_programs(problem) -> dict[str, str]:
    """Programs with a known verdict family for a generated problem (stdin or call format)."""
    if problem.format == "stdin":
        wrong = "print('certainly not the answer')\n"
        crash = "x = int(input())\nprint(1 // 0)\n"
        loop = "while True:\n    pass\n"
    else:
        head = f"class Solution:\n    def {problem.fn_name}(self, *a):\n" if "class Solution" in \
            problem.canonical_solution else f"def {problem.fn_name}(*a):\n"
        ind = "        " if head.startswith("class") else "    "
        wrong, crash, loop = (head + ind + "return 'certainly not the answer'\n", head + ind + "return 1 // 0\n",
                              head + ind + "while True:\n" + ind + "    pass\n")
    return {"passed": problem.canonical_solution, "wrong_answer": wrong, "runtime_error": crash,
            "timeout": loop, "compile_error": "def broken(:\n    return\n"}


def test_failure_breakdown_counts_verdicts_from_the_real_executor(executor):
    problems = synthetic_test_problems(8)
    by_diff = {p.difficulty: p for p in problems}
    chosen = [by_diff[d] for d in ("introductory", "interview", "competition") if d in by_diff]
    assert len(chosen) >= 2
    programs = [_bad_programs(p) for p in chosen]
    completions = [list(progs.values()) for progs in programs]
    records = pd.DataFrame(judge_completions(chosen, [""] * len(chosen), completions, RAW, executor, progress=False))
    expected = [family(v) for progs in programs for v in progs]
    assert [family(v) for v in records.verdict] == expected  # timeouts land in the runtime-error family
    assert (records.verdict == "timeout").sum() == len(chosen)
    table = failure_breakdown(records)
    for p in chosen:
        row = table.loc[p.difficulty]
        assert row[("count", "passed")] == 1 and row[("count", "wrong_answer")] == 1
        assert row[("count", "runtime_error")] == 2 and row[("count", "compile_error")] == 1
        assert row[("count", "samples")] == 5 and row[("share", "compile_error")] == pytest.approx(20.0)
    assert table.loc["overall", ("count", "samples")] == 5 * len(chosen)
    assert table.loc["overall", ("count", "other")] == 0
