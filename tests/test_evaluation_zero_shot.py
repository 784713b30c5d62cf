"""HumanEval and MBPP machinery: known-good and known-bad completions through the real executor.

No model is needed: completions are fed as a model would return them (a base model's raw
continuation that runs on past the function, an instruction model's Markdown answer).
"""

from __future__ import annotations

import pytest

from stepcoder_lib.data import load_humaneval, load_mbpp
from stepcoder_lib.data.mbpp import mbpp_row_to_problem
from stepcoder_lib.results.evaluation import judge_completions
from stepcoder_lib.results.prompts import apps_format, extract_code, humaneval_format, mbpp_format, truncate_at_stops
from stepcoder_lib.settings.profiles import PAPER_PROMPT, get_profile

#: An MBPP-shaped task written here (so the test runs without the real file), with MBPP's fields.
MBPP_ROW = {
    "task_id": 9001, "text": "Write a function to return the sum of the squares of the even numbers of a list.",
    "code": "def even_square_sum(xs):\r\n    return sum(x * x for x in xs if x % 2 == 0)",
    "test_list": ["assert even_square_sum([1, 2, 3, 4]) == 20", "assert even_square_sum([]) == 0",
                  "assert even_square_sum([5, 7]) == 0"],
    "test_setup_code": "", "challenge_test_list": [],
}


def _verdicts(problems, fmt, completions, executor):
    prompts = [fmt.prompt(p) for p in problems]
    records = judge_completions(problems, prompts, completions, fmt, executor, progress=False)
    n = len(completions[0])
    return [[r["verdict"] for r in records[i * n:(i + 1) * n]] for i in range(len(problems))]


def test_helpers_cut_and_unwrap():
    assert truncate_at_stops("    return 1\n\ndef g():\n", ("\ndef",)) == "    return 1\n"
    assert truncate_at_stops("    return 1\n", ("\ndef",)) == "    return 1\n"
    assert extract_code("Sure:\n```python\nx = 1\n```\nbye") == "x = 1\n"
    assert extract_code("```\nx = 2\n") == "x = 2\n"  # unclosed fence: to the end
    assert extract_code("x = 3\n") == "x = 3\n"


def test_humaneval_completion_style_judges_raw_continuations(executor):
    problems = load_humaneval()[:3]
    fmt = humaneval_format("completion")
    assert all(fmt.prompt(p) == p.statement and p.statement.rstrip().endswith('"""') for p in problems)
    completions = []
    for p in problems:
        body = p.canonical_solution[len(p.starter_code):]
        # A base model runs on past the function; the stop sequences cut it before the junk.
        completions.append([body + "\n\ndef junk(:\n    pass\nprint(undefined_name)\n", "    return None\n",
                            "    return (\n"])
    assert _verdicts(problems, fmt, completions, executor) == [["passed", "wrong_answer", "compile_error"]] * 3


def test_humaneval_instruct_style_unwraps_markdown_answers(executor):
    problems = load_humaneval()[:2]
    fmt = humaneval_format("instruct", PAPER_PROMPT)
    prompt = fmt.prompt(problems[0])
    assert prompt.startswith("You are an AI programming assistant") and problems[0].statement.rstrip() in prompt
    completions = []
    for p in problems:
        body = p.canonical_solution[len(p.starter_code):]
        whole = f"Here is the function:\n```python\n{p.canonical_solution}\n```\nIt works because ..."
        completions.append([whole, f"```python\n{body}```", "I cannot help with that.",
                            f"```python\ndef {p.fn_name}(*args):\n    return None\n```"])
    assert _verdicts(problems, fmt, completions, executor) == [
        ["passed", "passed", "compile_error", "wrong_answer"]] * 2


def test_mbpp_completion_style_uses_the_docstring_prompt(executor):
    problem = mbpp_row_to_problem(MBPP_ROW)
    fmt = mbpp_format("completion")
    prompt = fmt.prompt(problem)
    assert prompt == ('"""\nWrite a function to return the sum of the squares of the even numbers of a list.\n'
                      'assert even_square_sum([1, 2, 3, 4]) == 20\n"""\n')
    good = problem.canonical_solution + "\nassert even_square_sum([1]) == 12345\n"  # the stop cuts the bad assert
    bad = "def even_square_sum(xs):\n    return sum(xs)\n"
    crash = "def even_square_sum(xs):\n    return xs[10]\n"
    assert _verdicts([problem], fmt, [[good, bad, crash, "def (:"]], executor) == [
        ["passed", "wrong_answer", "runtime_error", "compile_error"]]


def test_mbpp_instruct_style_lists_the_tests_and_unwraps_code(executor):
    problem = mbpp_row_to_problem(MBPP_ROW)
    fmt = mbpp_format("instruct", PAPER_PROMPT)
    prompt = fmt.prompt(problem)
    assert all(t in prompt for t in MBPP_ROW["test_list"]) and "### Response:" in prompt
    good = f"```python\n{problem.canonical_solution}\n```"
    assert _verdicts([problem], fmt, [[good, "```python\ndef even_square_sum(xs):\n    return 0\n```"]],
                     executor) == [["passed", "wrong_answer"]]


@pytest.mark.realdata
def test_real_mbpp_canonical_code_passes_as_a_completion(realdata, executor):
    problems = load_mbpp(realdata / "mbpp" / "mbpp.jsonl", split="test")[:4]
    fmt = mbpp_format("completion")
    verdicts = _verdicts(problems, fmt, [[p.canonical_solution, "def nothing():\n    pass\n"] for p in problems],
                         executor)
    assert all(v[0] == "passed" for v in verdicts), verdicts
    assert all(v[1] in ("runtime_error", "wrong_answer") for v in verdicts), verdicts  # NameError or wrong


def test_apps_format_keeps_starter_code_when_the_prompt_ends_with_it():
    profile = get_profile("smoke")
    fmt = apps_format(profile)
    from eval_helpers import synthetic_test_problems

    problem = next(p for p in synthetic_test_problems(8) if p.starter_code)
    prompt = fmt.prompt(problem)
    assert problem.statement.strip() in prompt
    body = "    return 1\n"
    assert fmt.program(problem, prompt + problem.starter_code, body) == problem.starter_code + body
    assert fmt.program(problem, prompt, "```python\nprint(1)\n```") == "print(1)\n"
