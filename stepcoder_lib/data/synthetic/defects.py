"""Known defects injected into generated problems, so the cleaning pipeline can be graded.

Each kind mirrors a reason APPS+ drops or repairs a real APPS problem:

* ``missing_outputs``: no ``input_output.json``, an empty one, no outputs, or fewer outputs than inputs;
* ``wrong_output``: one expected output altered (the solution is right, the test is wrong);
* ``syntax_error``: every solution fails to compile;
* ``missing_import``: every solution imports a library that is not installed;
* ``timeout``: the only solution loops forever on some test inputs (a count-down that misses);
* ``missing_solution``: no ``solutions.json`` or an empty list.

Clean problems may carry wrong solutions before the right one (``wrong_first``): the cleaning
keeps the first solution that passes, so these must survive.
"""

from __future__ import annotations

import random
import re
from typing import Any

from stepcoder_lib.data.synthetic.compose import (
    EXTRA_LABELS,
    LABEL_THEMES,
    call_key_expr,
    case_key,
    render_program,
    run_in_process,
    stdin_key_expr,
)

DEFECT_KINDS: tuple[str, ...] = (
    "missing_outputs",
    "wrong_output",
    "syntax_error",
    "missing_import",
    "timeout",
    "missing_solution",
)
#: Libraries no environment of this project installs (checked by the tests under the executor).
MISSING_MODULES: tuple[tuple[str, str], ...] = (
    ("gmpy2", "mpz"),
    ("bitarray", "bitarray"),
    ("blist", "sortedlist"),
    ("intervaltree", "IntervalTree"),
    ("primesieve", "primes"),
    ("sortedcollections", "ValueSortedDict"),
)
_ALL_LABELS = tuple(w for theme in LABEL_THEMES for w in theme) + EXTRA_LABELS


def _other_label(rng: random.Random, word: str) -> str:
    return rng.choice([w for w in _ALL_LABELS if w.lower() != word.lower()])


def alter_value(rng: random.Random, value: Any) -> Any:
    """A clearly different value of the same shape (never equal under lenient comparison)."""
    delta = rng.choice([-3, -2, -1, 1, 2, 3, 5])
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + delta
    if isinstance(value, str):
        return _other_label(rng, value) if value.isalpha() else value + "x"
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return value[:i] + [alter_value(rng, value[i])] + value[i + 1 :]
    raise ValueError(f"cannot alter {value!r}")


def alter_stdout(rng: random.Random, text: str) -> str:
    """Change one token of one line of a program's printed output."""
    lines = text.split("\n")[:-1]
    i = rng.randrange(len(lines))
    tokens = lines[i].split(" ")
    j = rng.randrange(len(tokens))
    tok = tokens[j]
    tokens[j] = (
        str(int(tok) + rng.choice([-3, -2, -1, 1, 2, 3, 5]))
        if re.fullmatch(r"-?\d+", tok)
        else _other_label(rng, tok)
        if tok.isalpha()
        else tok + "x"
    )
    lines[i] = " ".join(tokens)
    return "\n".join(lines) + "\n"


def break_syntax(rng: random.Random, program: str) -> tuple[str, str]:
    """The program with one syntax error (checked with ``compile``), and which kind."""
    lines = program.split("\n")
    options: list[tuple[str, int]] = []
    for i, ln in enumerate(lines):
        s = ln.strip()
        if s.endswith(":"):
            options.append(("missing_colon", i))
        if s.endswith(")") and "(" in s:
            options.append(("unclosed_paren", i))
        if s.startswith(("if ", "elif ")) and " == " in s:
            options.append(("assign_in_condition", i))
        if i > 0 and s and not lines[i - 1].rstrip().endswith(":") and lines[i - 1].strip():
            options.append(("unexpected_indent", i))
    rng.shuffle(options)
    for kind, i in options:
        new = list(lines)
        if kind == "missing_colon" or kind == "unclosed_paren":
            new[i] = new[i].rstrip()[:-1]
        elif kind == "assign_in_condition":
            new[i] = new[i].replace(" == ", " = ", 1)
        else:
            new[i] = "  " + new[i]
        text = "\n".join(new)
        try:
            compile(text, "<broken>", "exec")
        except SyntaxError:
            return text, kind
    raise ValueError("no syntax break applies")


def wrong_solution(
    rng: random.Random, program: str, fmt: str, fn_name: str | None, inputs: list[Any], outputs: list[Any]
) -> str | None:
    """A plausible near-miss of ``program`` that gives a wrong answer on at least one test (no crash)."""
    lines = program.split("\n")
    muts: list[tuple[int, str]] = []
    for i, ln in enumerate(lines):
        s = ln.strip()
        if s.startswith(("if ", "elif ")):
            for m in re.finditer(r"(?<![\w.])-?\d+", ln):
                for d in (1, -1, 2):
                    muts.append((i, ln[: m.start()] + str(int(m.group()) + d) + ln[m.end() :]))
            for a, b in (("<=", "<"), (">=", ">"), ("< ", "<= "), ("> ", ">= ")):
                if a in ln:
                    muts.append((i, ln.replace(a, b, 1)))
        if "+=" in ln and "+= 1" not in ln:
            muts.append((i, ln.replace("+=", "-=", 1)))
        if re.search(r"\b(print|return)\b", s) and '"' not in s and "[" not in s:
            muts.append(
                (
                    i,
                    re.sub(
                        r"(print\((.*)\)|return (.*))$",
                        lambda m: f"print({m.group(2)} + 1)" if m.group(2) else f"return {m.group(3)} + 1",
                        ln,
                    ),
                )
            )
    rng.shuffle(muts)
    for i, new_line in muts[:20]:
        if new_line == lines[i]:
            continue
        cand = "\n".join(lines[:i] + [new_line] + lines[i + 1 :])
        try:
            code = compile(cand, "<mutant>", "exec")
            got = [run_in_process(code, fmt, fn_name, inp) for inp in inputs]
        except Exception:
            continue
        if any(g != o for g, o in zip(got, outputs)):
            return cand
    return None


def inject(rng: random.Random, p: dict[str, Any], kind: str) -> None:
    """Apply defect ``kind`` to problem ``p`` in place (its APPS fields) and record the detail."""
    detail: dict[str, Any] = {}
    io = p["input_output"]
    call = p["format"] != "stdin"
    if kind == "missing_outputs":
        variant = rng.choice(["no_file", "empty_object", "no_outputs", "short_outputs"])
        if variant == "no_file":
            p["input_output"] = None
        elif variant == "empty_object":
            p["input_output"] = {}
        elif variant == "no_outputs":
            p["input_output"] = {**io, "outputs": []}
        else:
            keep = rng.randint(1, len(io["outputs"]) - 1)
            p["input_output"] = {**io, "outputs": io["outputs"][:keep]}
        detail = {"variant": variant}
    elif kind == "wrong_output":
        j = rng.randrange(len(io["outputs"]))
        outs = list(io["outputs"])
        if call:
            outs[j] = [alter_value(rng, outs[j][0])]
        else:
            outs[j] = alter_stdout(rng, outs[j])
        p["input_output"] = {**io, "outputs": outs}
        detail = {"test": j, "expected": io["outputs"][j], "written": outs[j]}
    elif kind == "syntax_error":
        broken, how = break_syntax(rng, p["reference_solution"])
        p["solutions"] = [broken]
        detail = {"variant": how}
    elif kind == "missing_import":
        mod, name = rng.choice(MISSING_MODULES)
        line = f"import {mod}" if rng.random() < 0.5 else f"from {mod} import {name}"
        p["solutions"] = [line + "\n" + p["reference_solution"]]
        detail = {"module": mod}
    elif kind == "timeout":
        keys = [len(c) if p["composition"]["multi"] else case_key(p["composition"]["src"], c[0]) for c in p["cases"]]
        target = min(keys) + 1
        key = (
            stdin_key_expr(p["composition"]["src"], bool(p["composition"]["multi"]))
            if not call
            else call_key_expr(p["composition"]["src"], p["names"])
        )
        loop = [f"steps = {key}", f"while steps != {target}:", "    steps -= 1"]
        p["solutions"] = [render_program(p["composition"], p["format"], p["names"], p["fn_name"], inject=loop)]
        detail = {"hanging_tests": [i for i, k in enumerate(keys) if k < target]}
    elif kind == "missing_solution":
        variant = rng.choice(["no_file", "empty_list"])
        p["solutions"] = None if variant == "no_file" else []
        detail = {"variant": variant}
    else:
        raise ValueError(f"unknown defect kind {kind!r}")
    p["defect"] = kind
    p["defect_detail"] = detail
