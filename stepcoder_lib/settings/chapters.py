"""Helpers that let a notebook read like a book chapter: the implementing code shown from its source.

Why: a notebook that copies a library function into a Markdown cell drifts from the library the day
the function changes. ``show_source`` reads the function with ``inspect.getsource`` at run time, so
the code under an equation is always the code that ran; ``what_we_saw`` renders the closing summary
built from the notebook's own variables (no hand-written numbers).
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from IPython.display import Markdown

from stepcoder_lib.settings.paths import repo_root


def source_markdown(fn: Callable[..., Any] | type) -> str:
    """``fn``'s source as a fenced Python block under a line naming its module, qualified name and file:line."""
    lines, first = inspect.getsourcelines(fn)
    path = Path(inspect.getsourcefile(fn) or "?")
    try:
        where = path.resolve().relative_to(repo_root()).as_posix()
    except ValueError:  # installed elsewhere: the file name is still a useful pointer
        where = path.name
    name = f"{fn.__module__}.{fn.__qualname__}"
    code = textwrap.dedent("".join(lines)).rstrip()  # a method reads like a function
    return f"`{name}` ({where}:{first})\n\n```python\n{code}\n```"


def show_source(*fns: Callable[..., Any] | type) -> Markdown:
    """A Markdown display of each function's source, in order (the notebook's "code under the equation")."""
    return Markdown("\n\n".join(source_markdown(fn) for fn in fns))


def what_we_saw(points: Iterable[str]) -> Markdown:
    """The closing "What we saw" list (under its Markdown heading): one bullet per point, each built from values."""
    items = [p.strip() for p in points if p and p.strip()]
    if not items:
        raise ValueError("what_we_saw needs at least one point computed by the notebook")
    return Markdown("\n".join(f"- {p}" for p in items))
