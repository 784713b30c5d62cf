"""The task prompt: the one place a problem becomes the text a model is asked to continue.

SFT, the base model's pretraining corpus, RL rollouts (before the CCCS prefix is appended) and
evaluation all call ``build_prompt``, so the model is trained and judged on the same format.
The template is the profile's (``profile.model.prompt_template``; the paper's for ``paper``) with
``{task}`` = the problem statement. When the problem has starter code (call-based APPS problems:
the function's signature, which the statement alone may not name), it follows the statement, as
APPS prompts have it; the model still writes the whole program, starter code included, so that
program = CCCS prefix + completion holds at every stage (stage 0: the empty prefix).
"""

from __future__ import annotations

import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CLOSING_FENCE = re.compile(r"^```", re.MULTILINE)

#: Between the statement and the starter code (APPS's own prompt format, Hendrycks et al. 2021).
STARTER_HEADER = "\n\nStarter code:\n"


def task_text(problem: Any) -> str:
    """The ``{task}`` part: the statement, then the starter code when there is one."""
    statement = problem.statement.rstrip("\n")
    starter = getattr(problem, "starter_code", "") or ""
    return statement + (STARTER_HEADER + starter.rstrip("\n") if starter.strip() else "")


def build_prompt(problem: Any, profile: Any, prefix: str = "") -> str:
    """``profile.model.prompt_template`` with the task filled in, then the CCCS ``prefix`` (stage 0: none)."""
    return profile.model.prompt_template.format(task=task_text(problem)) + prefix


def extract_code(text: str) -> str:
    """The first fenced code block of ``text`` (an unclosed fence runs to the end); ``text`` when there is none."""
    m = _FENCE.search(text)
    return m.group(1) if m else text


def answer_program(prefix: str, completion: str) -> tuple[str, tuple[int, int]]:
    """The program an answer stands for, and its (start, end) span in ``prefix + completion``.

    The one extraction RL rollouts and evaluation share (``eval_prompts.apps_format``): a fenced
    block when the answer opens one (instruction models answer in Markdown); the text up to a
    closing fence when the prompt opened it; else everything. So a fenced answer scores the same
    in training as in evaluation, and the FGO mask knows which tokens were program.
    """
    text = prefix + completion
    m = _FENCE.search(text)
    if m:
        return m.group(1), m.span(1)
    close = _CLOSING_FENCE.search(text)
    end = close.start() if close else len(text)
    return text[:end], (0, end)
