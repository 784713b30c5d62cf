"""Problems with several valid answers: detected from the statement and from the candidates' outputs."""

from __future__ import annotations

import pytest
from data_helpers import write_apps_problem

from stepcoder_lib.data import clean_apps
from stepcoder_lib.executor import Executor, ExecutorConfig, Job
from stepcoder_lib.executor.testcases import TestCases

# Print the distinct values of the second line, largest first.
UNIQUE = "Read n and n numbers; print the distinct numbers, largest first, on one line."
DISTINCT_DESC = "input()\nprint(*sorted(set(map(int, input().split())), reverse=True))\n"
DISTINCT_SET_ORDER = "input()\nprint(*set(map(int, input().split())))\n"  # right tokens, any order
DISTINCT_EVEN_FIRST = "input()\nprint(*sorted(set(map(int, input().split())), key=lambda x: (x % 2, x)))\n"
EVEN_ODD = "input()\na = [int(x) % {k} == 0 for x in input().split()]\nprint(sum(a), len(a) - sum(a))\n"
TESTS = {"inputs": ["1\n7\n", "4\n3 1 3 2\n", "3\n9 9 9\n"], "outputs": ["7\n", "3 2 1\n", "9\n"]}


@pytest.mark.parametrize("statement, phrase", [
    ("If there are multiple answers, print any of them.", "print any"),
    ("Print the indices in any order.", "in any order"),
    ("If there are several solutions, output any.", "output any"),
    ("If there are many ways to do it, any of those is accepted.", "any of those"),
    ("If there are multiple possible answers, you can choose which to print", "if there are multiple possible answers"),
    ("The numbers are given in any order.", None),  # about the input
    ("If there are multiple answers, print the lexicographically smallest one.", None),  # a tie-break: unique
    ("You can print each letter in any case (upper or lower).", None),
])
def test_statement_wording(statement, phrase) -> None:
    from stepcoder_lib.data import statement_allows_several_answers

    assert statement_allows_several_answers("Some story.\n" + statement + " More.") == phrase


def _tree(root) -> None:
    # 0001: the statement says so; its only solution passes
    write_apps_problem(root, "train", "0001", question="Read n, print a number greater than n. If there are several "
                       "answers, print any of them.", solutions=["print(int(input()) + 1)\n"])
    # 0002: no wording, but two candidates that pass some tests print the expected tokens in other orders
    write_apps_problem(root, "train", "0002", difficulty="interview", question="Print the distinct numbers.",
                       solutions=[DISTINCT_SET_ORDER, DISTINCT_EVEN_FIRST, DISTINCT_DESC], input_output=TESTS)
    # 0003: the same, with the reordering candidates after the canonical one (run as answer checks)
    write_apps_problem(root, "train", "0003", difficulty="interview", question="Print the distinct numbers.",
                       solutions=[DISTINCT_DESC, DISTINCT_SET_ORDER, DISTINCT_EVEN_FIRST], input_output=TESTS)
    # 0007: one reordering alone is only noted (a near-miss can swap two counters by chance), so are
    # two candidates reordering the same way (two near-misses of one mistake)
    write_apps_problem(root, "train", "0007", difficulty="interview", question="Print the distinct numbers.",
                       solutions=[DISTINCT_SET_ORDER, DISTINCT_SET_ORDER + "# the same\n", DISTINCT_DESC],
                       input_output=TESTS)
    # 0004: a near-miss wrong candidate before the right one: evidence noted, problem kept (its answer is unique)
    write_apps_problem(root, "train", "0004", difficulty="competition", question=UNIQUE, input_output=TESTS,
                       solutions=["input()\nprint(*sorted(set(map(int, input().split())), reverse=True)[:2])\n",
                                  DISTINCT_DESC])
    # 0005: a tie-break makes the answer unique
    write_apps_problem(root, "train", "0005", question="If there are several answers, print the smallest one.")
    # 0006: a near-miss that swaps two counts by chance on each test it fails is not a reordering
    write_apps_problem(root, "train", "0006", question="Print how many numbers are even, then how many are odd.",
                       input_output={"inputs": ["3\n1 2 4\n", "2\n1 3\n", "1\n2\n"],
                                     "outputs": ["2 1\n", "0 2\n", "1 0\n"]},
                       solutions=[EVEN_ODD.format(k=4), EVEN_ODD.format(k=2)])


def test_several_answers_are_dropped_with_their_reason_or_kept_flagged(tmp_path, executor) -> None:
    _tree(tmp_path / "apps")
    res = clean_apps(tmp_path / "apps", tmp_path / "out", executor=executor, plots=False, progress=False)
    assert {d.id[-4:]: (d.stage, d.reason) for d in res.dropped} == dict.fromkeys(
        ("0001", "0002", "0003"), ("answers", "several valid answers"))
    details = {d.id[-4:]: d.detail for d in res.dropped}
    assert details["0001"] == "statement: 'print any'"
    assert details["0002"] == ("outputs: candidates #0 (passes 2 of 3, reorders test 1); #1 (passes 2 of 3, "
                               "reorders test 1): the expected tokens in another order on every test failed")
    assert details["0003"].startswith("outputs: candidates #1 (passes 2 of 3, reorders test 1); #2 ")
    kept = {p.id[-4:]: p for p in res.problems}
    assert set(kept) == {"0004", "0005", "0006", "0007"}
    assert "reordered_output" not in kept["0006"].metadata["answer_evidence"]
    assert kept["0007"].metadata["answer_evidence"]["reordering_candidates"] == [0, 1]
    assert kept["0007"].metadata["answer_evidence"]["distinct_orders"] == 1
    assert kept["0004"].metadata["answer_evidence"] == {
        "candidates_disagree": "candidate #0 passes 2 of 3 tests and answers test 1 differently"}
    assert kept["0004"].metadata["canonical_index"] == 1 and "several_answers" not in kept["0004"].metadata
    rep = res.report
    assert rep.drops["answers"] == {"several valid answers": {"interview": 2, "introductory": 1}}
    assert rep.reason_sections["several valid answers"]["by_difficulty"] == {"interview": 2, "introductory": 1}
    assert rep.flagged == {"candidates disagree": {"competition": 1, "interview": 1, "introductory": 1}}
    assert "## Dropped: several valid answers" in (tmp_path / "out" / "report.md").read_text()
    # the option keeps them, flagged with the evidence
    keep = clean_apps(tmp_path / "apps", executor=executor, several_answers="keep", plots=False, progress=False)
    assert keep.dropped == [] and len(keep.problems) == 7
    flagged = {p.id[-4:]: p.metadata["several_answers"] for p in keep.problems if "several_answers" in p.metadata}
    assert flagged == {"0001": ["statement: 'print any'"], "0002": [details["0002"]],
                       "0003": [details["0003"]]}
    assert keep.report.flagged["several valid answers (kept)"] == {"interview": 2, "introductory": 1}
    assert keep.settings["several_answers"] == "keep"


def test_apps_compat_accepts_a_wrong_program_where_the_answer_is_unique() -> None:
    """Why the cleaning drops several-answer problems instead of judging them leniently: APPS's own
    checks (``compare="apps_compat"``) accept ``print(*set(a))`` where the order is prescribed."""
    tests = TestCases("stdin", tuple(TESTS["inputs"]), tuple(TESTS["outputs"]))
    with Executor(ExecutorConfig(workers=1, compare="apps_compat")) as lenient:
        (res,) = lenient.run_batch([Job(DISTINCT_SET_ORDER, tests, "p")], progress=False)
    assert res.passed and "apps_token_sets" in {t.rule for t in res.tests}
    with Executor(ExecutorConfig(workers=1)) as default:
        (res,) = default.run_batch([Job(DISTINCT_SET_ORDER, tests, "p")], progress=False)
    assert not res.passed
