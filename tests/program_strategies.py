"""Hypothesis strategies for small, runnable Python programs with known conditional statements.

Programs terminate quickly (bounded loops), mix non-ASCII literals, comments, blank lines,
multi-line statements, if/elif/else chains, loops with else, try/except/finally and functions,
so that CCCS cut points and FGO line policies are exercised on many shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

NAMES = ("a", "b", "c", "é", "ß")  # non-ASCII identifiers shift byte vs character columns
STRINGS = ("'x'", "'héllo'", "'€€'", "'日本'", '"a#b"')


@dataclass
class Counts:
    """How many statements of each kind the generator emitted (the oracle for the finder)."""

    kinds: dict[str, int] = field(default_factory=lambda: {"if": 0, "elif": 0, "for": 0, "while": 0, "try": 0})
    loops: int = 0


@st.composite
def _expr(draw: st.DrawFn) -> str:
    left, right = draw(st.sampled_from(NAMES)), draw(st.integers(-3, 9))
    op = draw(st.sampled_from(["+", "-", "*"]))
    if draw(st.booleans()):
        return f"len({draw(st.sampled_from(STRINGS))}) {op} {left}"
    return f"{left} {op} {right}"


@st.composite
def _block(draw: st.DrawFn, depth: int, indent: str, counts: Counts) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.sampled_from(["assign", "assign", "print", "comment", "multi", "if", "for", "while", "try"]
                                      if depth < 3 else ["assign", "print", "comment", "multi"]))
        var = draw(st.sampled_from(NAMES))
        if choice == "assign":
            lines.append(f"{indent}{var} = {draw(_expr())}")
        elif choice == "print":
            lines.append(f"{indent}out.append(({var}, {draw(st.sampled_from(STRINGS))}))")
        elif choice == "comment":
            lines.append(f"{indent}# note {draw(st.sampled_from(STRINGS))}")
            if draw(st.booleans()):
                lines.append("")
            lines.append(f"{indent}{var} = {var} + 0  # trailing ü")
        elif choice == "multi":
            lines += [f"{indent}{var} = ({draw(_expr())} +", f"{indent}     {draw(_expr())})"]
        elif choice == "if":
            counts.kinds["if"] += 1
            lines.append(f"{indent}if {draw(_expr())} > {draw(st.integers(-5, 5))}:")
            lines += draw(_block(depth + 1, indent + "    ", counts))
            for _ in range(draw(st.integers(0, 2))):
                counts.kinds["elif"] += 1
                lines.append(f"{indent}elif {var} == {draw(st.integers(-2, 2))}:")
                lines += draw(_block(depth + 1, indent + "    ", counts))
            if draw(st.booleans()):
                lines.append(f"{indent}else:")
                lines += draw(_block(depth + 1, indent + "    ", counts))
        elif choice == "for":
            counts.kinds["for"] += 1
            counts.loops += 1
            lines.append(f"{indent}for _i{counts.loops} in range({draw(st.integers(0, 2))}):")
            lines += draw(_block(depth + 1, indent + "    ", counts))
        elif choice == "while":
            counts.kinds["while"] += 1
            counts.loops += 1
            k = f"_k{counts.loops}"
            lines += [f"{indent}{k} = 0", f"{indent}while {k} < {draw(st.integers(0, 2))}:", f"{indent}    {k} += 1"]
            lines += draw(_block(depth + 1, indent + "    ", counts))
            if draw(st.booleans()):
                lines.append(f"{indent}else:")
                lines += draw(_block(depth + 1, indent + "    ", counts))
        else:  # try
            counts.kinds["try"] += 1
            lines.append(f"{indent}try:")
            lines += draw(_block(depth + 1, indent + "    ", counts))
            if draw(st.booleans()):
                lines.append(f"{indent}    {var} = 1 // ({var} - {var})")  # always raises ZeroDivisionError
            lines.append(f"{indent}except ZeroDivisionError:")
            lines += draw(_block(depth + 1, indent + "    ", counts))
            if draw(st.booleans()):
                lines.append(f"{indent}finally:")
                lines += draw(_block(depth + 1, indent + "    ", counts))
    return lines


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, Counts]:
    """A runnable program and the counts of the statements it contains."""
    counts = Counts()
    head = ["out = []"] + [f"{n} = {i}" for i, n in enumerate(NAMES)]
    body = draw(_block(0, "", counts))
    if draw(st.booleans()):  # a function that may or may not be called
        counts.kinds["if"] += 1
        body += ["", "def f(x):", "    if x > 0:", "        return x", "    return -x", ""]
        if draw(st.booleans()):
            body.append("a = f(b)")
    return "\n".join(head + body) + "\n", counts
