"""Where a program's conditional statements are: the AST facts CCCS cuts at (paper Sec. 3.2).

A pure function of the source, computed once when a problem is cleaned and stored with it
(``Problem.conditionals``); the curriculum (``stepcoder_lib.method.curriculum``) reads them.
Which kinds count as conditional statements, and why, is explained there.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

ALL_KINDS: tuple[str, ...] = ("if", "elif", "ifexp", "while", "for", "try", "match")
DEFAULT_KINDS: tuple[str, ...] = ("if", "elif")

_NEWLINE = re.compile(r"\r\n|\r|\n")  # what Python's tokenizer counts as a line break


def line_offsets(source: str) -> list[int]:
    """Character offset at which each line starts (index 0 is line 1), as ``ast`` numbers lines."""
    return [0] + [m.end() for m in _NEWLINE.finditer(source)]


def _char_offset(source: str, starts: list[int], lineno: int, byte_col: int) -> int:
    """``ast`` columns are UTF-8 byte offsets within the line; turn (line, byte col) into a char offset."""
    line_start = starts[lineno - 1]
    line_end = starts[lineno] if lineno < len(starts) else len(source)
    head = source[line_start:line_end].encode("utf-8")[:byte_col]
    return line_start + len(head.decode("utf-8"))


@dataclass(frozen=True)
class ConditionalStatement:
    """One statement: 0-based char offsets (end exclusive) and 1-based lines (end inclusive)."""

    kind: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConditionalStatement:
        return cls(str(d["kind"]), int(d["start_char"]), int(d["end_char"]), int(d["start_line"]), int(d["end_line"]))


def _kind(node: ast.AST, source: str, start: int) -> str | None:
    if isinstance(node, ast.If):
        return "elif" if source.startswith("elif", start) else "if"
    if isinstance(node, ast.IfExp):
        return "ifexp"
    if isinstance(node, ast.While):
        return "while"
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return "for"
    if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        return "try"
    if isinstance(node, getattr(ast, "Match", ())):
        return "match"
    return None


def find_conditional_statements(source: str, kinds: Sequence[str] = DEFAULT_KINDS) -> list[ConditionalStatement]:
    """Conditional statements of ``source`` sorted by start; raises SyntaxError if it does not parse."""
    unknown = set(kinds) - set(ALL_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {ALL_KINDS}")
    with warnings.catch_warnings():  # old solutions' invalid escapes ("\d") warn when parsed
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        tree = ast.parse(source)
    starts = line_offsets(source)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.stmt, ast.IfExp)):
            continue
        start = _char_offset(source, starts, node.lineno, node.col_offset)
        kind = _kind(node, source, start)
        if kind is None or kind not in kinds:
            continue
        assert node.end_lineno is not None and node.end_col_offset is not None  # set by ast.parse
        end = _char_offset(source, starts, node.end_lineno, node.end_col_offset)
        found.append(ConditionalStatement(kind, start, end, node.lineno, node.end_lineno))
    return sorted(found, key=lambda s: (s.start_char, -s.end_char))


def extract_conditionals(source: str) -> list[dict[str, Any]]:
    """The CCCS input: conditional statements of ``source`` as dicts (start/end chars and lines)."""
    with warnings.catch_warnings():  # old code's invalid escapes ("\d") warn when parsed; not our business
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        return [c.to_dict() for c in find_conditional_statements(source)]
