"""Prompt and program formats for evaluation: what a model is shown, and what the executor then runs.

Each benchmark is asked the way its model family expects:

* APPS+ (all models): the profile's instruction template, as in training (``stepcoder_lib.prompts``);
  the program is the completion (stage 0 of the curriculum: the model writes the whole program).
* HumanEval, ``completion`` style (base and tiny models): the raw prompt (signature + docstring);
  the program is prompt + completion cut at the first top-level statement that is not the body
  (Codex's stop sequences). ``instruct`` style: the function inside the profile's template; the
  program is the code block of the answer after the prompt (its stubs are valid Python, the
  answer's definition replaces them), or prompt + code when the answer is only a body.
* MBPP, ``completion`` style: the docstring prompt of the bigcode harness (task text and first
  test) and bigcode's stop sequences; ``instruct`` style: the task and its tests in the template.

Code fences in any answer are unwrapped (instruction models answer in Markdown).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.prompts import answer_program, build_prompt, extract_code

#: Codex's HumanEval stop sequences (Chen et al. 2021): the body ends at the next top-level statement.
HUMANEVAL_STOPS: tuple[str, ...] = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
#: bigcode-evaluation-harness's MBPP stop sequences (helper functions may follow, so no "\ndef").
MBPP_STOPS: tuple[str, ...] = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")
STYLES: tuple[str, ...] = ("completion", "instruct")


@dataclass(frozen=True)
class PromptFormat:
    """How one benchmark is put to a model; ``name`` enters the evaluation cache key."""

    name: str
    make_prompt: Callable[[Problem], str]
    make_program: Callable[[Problem, str, str], str]  # (problem, prompt, completion) -> program

    def prompt(self, problem: Problem) -> str:
        return self.make_prompt(problem)

    def program(self, problem: Problem, prompt: str, completion: str) -> str:
        return self.make_program(problem, prompt, completion)


def truncate_at_stops(text: str, stops: tuple[str, ...]) -> str:
    """``text`` up to the earliest stop sequence (kept whole when none occurs)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


def apps_format(profile: Any) -> PromptFormat:
    """APPS+ in the profile's training prompt; the program as RL rollouts build it (``prompts.answer_program``).

    Starter code at the very end of the prompt (a template that ends with it) joins the program.
    """

    def program(problem: Problem, prompt: str, completion: str) -> str:
        code, _ = answer_program("", completion)
        starter = problem.starter_code
        return starter + code if starter and prompt.endswith(starter) else code

    return PromptFormat("apps", lambda p: build_prompt(p, profile), program)


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"zero-shot prompt style {style!r}: expected one of {', '.join(STYLES)}")


def humaneval_format(style: str, template: str = "") -> PromptFormat:
    """HumanEval as a base model (``completion``) or an instruction model (``instruct``, ``template``) sees it."""
    _check_style(style)
    if style == "completion":
        return PromptFormat("humaneval-completion", lambda p: p.statement,
                            lambda p, prompt, c: p.statement + truncate_at_stops(extract_code(c), HUMANEVAL_STOPS))

    def prompt(problem: Problem) -> str:
        task = ("Complete the following Python function. Return the whole function in a code block.\n"
                f"```python\n{problem.statement.rstrip()}\n```")
        return template.format(task=task)

    def program(problem: Problem, prompt: str, completion: str) -> str:
        code = extract_code(completion)
        entry = problem.fn_name or problem.metadata.get("entry_point", "")
        if re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
            return problem.statement + "\n" + code
        return problem.statement + code

    return PromptFormat(f"humaneval-instruct:{template}", prompt, program)


def mbpp_prompt(problem: Problem) -> str:
    """bigcode-evaluation-harness's zero-shot MBPP prompt: the task and its first test in a docstring."""
    return f'"""\n{problem.statement.strip()}\n{problem.tests.inputs[0].strip()}\n"""\n'


def mbpp_format(style: str, template: str = "") -> PromptFormat:
    """MBPP as a base model (``completion``) or an instruction model (``instruct``, ``template``) sees it."""
    _check_style(style)
    if style == "completion":
        return PromptFormat("mbpp-completion", mbpp_prompt,
                            lambda p, prompt, c: truncate_at_stops(extract_code(c), MBPP_STOPS))

    def prompt(problem: Problem) -> str:
        tests = "\n".join(t.strip() for t in problem.tests.inputs)
        return template.format(task=f"{problem.statement.strip()}\nYour code should pass these tests:\n{tests}")

    return PromptFormat(f"mbpp-instruct:{template}", prompt, lambda p, prompt, c: extract_code(c))
