"""The logic of a synthetic dataset problem: a composition of blocks, its code, and a runner.

A composition is a JSON-able dict (only lists, ints and strings, so its ``json.dumps`` with
sorted keys is a canonical signature):

* ``src``: what the program reads -- ``int`` (n), ``pair`` (a, b), ``list`` (n numbers),
  ``str`` (a word) or ``grid`` (rows of ``.``/``#``), with the ranges the statement promises;
* ``multi``: 0, or the largest number of test cases per input (stdin only: ``t`` then the cases);
* ``reducers``: how the input becomes values -- a builtin (``sum(a)``, ``s.count('e')``), or a
  loop over the elements whose body is a chain of if/elif/else arms (filter, piecewise
  contributions, per-class counters, nested ifs);
* ``post``: arithmetic updates of the value (``v = total * 3 + 1``);
* ``out``: print/return the value, several counters, or a chain of arms with labels/expressions.

Thresholds are picked from the empirical distribution of the value they test (the partial
program is executed on sampled inputs), so every arm is reachable with fair probability, and
tests are then chosen by executing an instrumented program until every ``if`` has been seen both
true and false. Everything here is a pure function of a ``random.Random``: no set iteration, no
``hash()``, so the output is identical across processes and ``PYTHONHASHSEED`` values.
"""

from __future__ import annotations

import ast
import copy
import json
import random
from collections.abc import Callable
from typing import Any

from stepcoder_lib.data.conditionals import find_conditional_statements

TIERS: tuple[str, ...] = ("introductory", "interview", "competition")
#: Number of ``if``/``elif`` statements (AST ``If`` nodes) a tier's canonical solution has.
IF_BANDS: dict[str, tuple[int, int]] = {"introductory": (0, 2), "interview": (3, 5), "competition": (6, 12)}
FORMATS: tuple[str, ...] = ("stdin", "call", "class")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
VOWELS = "aeiou"

LABEL_THEMES: tuple[tuple[str, ...], ...] = (
    ("low", "medium", "high", "extreme", "critical"),
    ("cold", "cool", "warm", "hot", "boiling"),
    ("small", "medium", "large", "huge", "giant"),
    ("bronze", "silver", "gold", "platinum", "diamond"),
    ("easy", "normal", "hard", "expert", "insane"),
    ("red", "yellow", "green", "blue", "violet"),
    ("poor", "fair", "good", "great", "perfect"),
    ("calm", "breezy", "windy", "stormy", "wild"),
    ("north", "east", "south", "west", "center"),
    ("Alice", "Bob", "Carol", "Dave", "Eve"),
)
EXTRA_LABELS: tuple[str, ...] = (
    "lucky",
    "plain",
    "odd",
    "even",
    "special",
    "none",
    "both",
    "tie",
    "win",
    "lose",
    "draw",
    "ok",
    "fail",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "up",
    "down",
    "left",
    "right",
    "star",
    "moon",
    "sun",
    "rock",
)


class Reject(Exception):
    """This composition does not work out (unreachable arm, band missed); draw another."""


# ----------------------------------------------------------------------------- expressions
def expr_code(e: list, var: str) -> str:
    """Python text of expression ``e`` applied to ``var`` (no outer parentheses needed)."""
    k = e[0]
    if k == "id":
        return var
    if k == "mul":
        return f"{var} * {e[1]}"
    if k == "add":
        return f"{var} + {e[1]}"
    if k == "sub":
        return f"{var} - {e[1]}"
    if k == "affine":
        return f"{var} * {e[1]} + {e[2]}" if e[2] >= 0 else f"{var} * {e[1]} - {-e[2]}"
    if k == "mod":
        return f"{var} % {e[1]}"
    if k == "fdiv":
        return f"{var} // {e[1]}"
    if k == "sq":
        return f"{var} * {var}"
    if k == "abs":
        return f"abs({var})"
    if k == "neg":
        return f"-{var}"
    raise ValueError(f"unknown expression {e!r}")


def sample_expr(rng: random.Random, kinds: tuple[str, ...]) -> list:
    k = rng.choice(kinds)
    if k in ("mul",):
        return [k, rng.randint(2, 5)]
    if k in ("add", "sub"):
        return [k, rng.randint(1, 12)]
    if k == "affine":
        return [k, rng.randint(2, 4), rng.choice([-1, 1]) * rng.randint(1, 9)]
    if k == "mod":
        return [k, rng.randint(3, 10)]
    if k == "fdiv":
        return [k, rng.randint(2, 5)]
    return [k]


# ----------------------------------------------------------------------------- conditions
_CMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def cond_code(c: list, var: str) -> str:
    k = c[0]
    if k in _CMP:
        return f"{var} {_CMP[k]} {c[1]}"
    if k == "even":
        return f"{var} % 2 == 0"
    if k == "odd":
        return f"{var} % 2 == 1"
    if k == "div":
        return f"{var} % {c[1]} == 0"
    if k == "vowel":
        return f"{var} in '{VOWELS}'"
    if k == "ceq":
        return f"{var} == '{c[1]}'"
    if k == "clt":
        return f"{var} < '{c[1]}'"
    if k in ("vgt", "vlt", "veq"):
        return f"{var} { {'vgt': '>', 'vlt': '<', 'veq': '=='}[k]} {c[1]}"
    raise ValueError(f"unknown condition {c!r}")


def cond_eval(c: list, x: Any, other: Any = None) -> bool:
    k = c[0]
    if k == "lt":
        return x < c[1]
    if k == "le":
        return x <= c[1]
    if k == "gt":
        return x > c[1]
    if k == "ge":
        return x >= c[1]
    if k == "eq":
        return x == c[1]
    if k == "ne":
        return x != c[1]
    if k == "even":
        return x % 2 == 0
    if k == "odd":
        return x % 2 == 1
    if k == "div":
        return x % c[1] == 0
    if k == "vowel":
        return x in VOWELS
    if k == "ceq":
        return x == c[1]
    if k == "clt":
        return x < c[1]
    if k == "vgt":
        return x > other
    if k == "vlt":
        return x < other
    if k == "veq":
        return x == other
    raise ValueError(f"unknown condition {c!r}")


def _quantile(sorted_vals: list[int], q: float) -> int:
    return sorted_vals[min(len(sorted_vals) - 1, max(0, int(q * len(sorted_vals))))]


def _arm_masses(conds: list[list], vals: list, others: list | None = None) -> list[float]:
    """Share of sampled values that land in each arm (len(conds) + 1 arms, the last is 'else')."""
    counts = [0] * (len(conds) + 1)
    for i, x in enumerate(vals):
        o = others[i] if others else None
        counts[next((j for j, c in enumerate(conds) if cond_eval(c, x, o)), len(conds))] += 1
    return [n / max(1, len(vals)) for n in counts]


def threshold_chain(
    rng: random.Random,
    vals: list[int],
    n_conds: int,
    *,
    raw: bool,
    allow_mixed: bool,
    min_mass: float = 0.07,
    others: list | None = None,
    other_name: str | None = None,
) -> list[list]:
    """``n_conds`` conditions for an if/elif chain over integer ``vals`` whose arms all get mass.

    Shapes: ascending cuts (``x < t1``, ``x <= t2``...), descending (``x > t1``...), or a first
    arm on parity / divisibility / equality (equality only on ``raw`` input values, where tests
    can hit it exactly) / another variable, followed by cuts.
    """
    svals = sorted(vals)
    if len(set(svals)) < n_conds + 1:
        raise Reject("too few distinct values for the chain")
    for attempt in range(16):
        conds: list[list] = []
        first = "cuts"
        if other_name:  # a second value exists only to be compared with: the first arm does that
            first = "var"
        elif allow_mixed and n_conds >= 2 and rng.random() < 0.4:
            first = rng.choice(["parity", "div", "eq"] if raw else ["parity", "div"])
        if first == "parity":
            conds.append([rng.choice(["even", "odd"])])
        elif first == "div":
            conds.append(["div", rng.randint(3, 7)])
        elif first == "eq":
            conds.append(["eq", rng.choice(svals)])
        elif first == "var":
            conds.append([rng.choice(["vgt", "vlt"]), other_name])
        n_cuts = n_conds - len(conds)
        rest = sorted(
            x for i, x in enumerate(vals) if not (conds and cond_eval(conds[0], x, others[i] if others else None))
        )
        if len(rest) < 2 * (n_cuts + 1):
            continue
        desc = rng.random() < 0.35
        if attempt % 2 == 0:  # spread by quantiles (wide ranges)
            qs = sorted((i + rng.uniform(0.3, 0.7)) / (n_cuts + 1) for i in range(n_cuts))
            cuts = sorted({_quantile(rest, q) for q in qs})
        else:  # any cut between distinct values (few distinct values: counts, remainders)
            distinct = sorted(set(rest))[1:]
            cuts = sorted(rng.sample(distinct, n_cuts)) if len(distinct) >= n_cuts else []
        if len(cuts) < n_cuts:
            continue
        if desc:  # x > d  <=>  x >= d + 1
            for d in reversed(cuts):
                conds.append(["gt", d - 1] if rng.random() < 0.5 else ["ge", d])
        else:  # x < c  <=>  x <= c - 1
            for c in cuts:
                conds.append(["lt", c] if rng.random() < 0.5 else ["le", c - 1])
        masses = _arm_masses(conds, vals, others)
        floor = min(min_mass, 0.35 / (n_conds + 1))
        if masses[0] > 0 and all(m >= floor for i, m in enumerate(masses) if not (first == "eq" and i == 0)):
            return conds
    raise Reject("could not place thresholds")


def char_chain(rng: random.Random, vals: list[str], n_conds: int) -> list[list]:
    """Conditions on a character: vowel, a given letter, or 'comes before letter X'."""
    for _ in range(8):
        conds: list[list] = []
        kinds = ["vowel", "ceq", "clt"]
        rng.shuffle(kinds)
        used_letters: list[str] = []
        for k in (kinds * 2)[:n_conds]:
            if k == "vowel" and ["vowel"] not in conds:
                conds.append(["vowel"])
            elif k == "clt":
                conds.append(["clt", rng.choice(LETTERS[3:24])])
            else:
                letter = rng.choice([ch for ch in LETTERS if ch not in used_letters])
                used_letters.append(letter)
                conds.append(["ceq", letter])
        masses = _arm_masses(conds, vals)
        if all(m > 0.015 for m in masses):
            return conds
    raise Reject("could not place character conditions")


# ----------------------------------------------------------------------------- sources
def sample_source(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "int":
        lo, hi = rng.choice([(0, 20), (1, 50), (0, 100), (-20, 20), (-50, 50), (1, 1000), (-100, 100), (0, 500)])
        return {"kind": "int", "lo": lo, "hi": hi}
    if kind == "pair":
        lo, hi = rng.choice([(0, 10), (1, 20), (-10, 10), (0, 50), (1, 100), (-20, 20)])
        return {"kind": "pair", "lo": lo, "hi": hi}
    if kind == "list":
        lo, hi = rng.choice([(0, 10), (1, 20), (-10, 10), (0, 50), (1, 100), (-20, 30), (-5, 15)])
        return {"kind": "list", "nmax": rng.choice([5, 6, 8, 10]), "lo": lo, "hi": hi}
    if kind == "str":
        return {"kind": "str", "nmax": rng.choice([6, 8, 10, 12])}
    if kind == "grid":
        return {"kind": "grid", "rmax": rng.randint(3, 6), "cmax": rng.randint(4, 8)}
    raise ValueError(kind)


def sample_case(rng: random.Random, src: dict[str, Any], hints: list[int], letters: list[str]) -> Any:
    """One raw input case for ``src`` (python values), biased toward the composition's constants."""
    k = src["kind"]

    def num(lo: int, hi: int) -> int:
        if hints and rng.random() < 0.35:
            return min(hi, max(lo, rng.choice(hints) + rng.choice([-1, 0, 0, 1])))
        return rng.randint(lo, hi)

    if k == "int":
        return num(src["lo"], src["hi"])
    if k == "pair":
        return [num(src["lo"], src["hi"]), num(src["lo"], src["hi"])]
    if k == "list":
        return [num(src["lo"], src["hi"]) for _ in range(rng.randint(1, src["nmax"]))]
    if k == "str":
        pool = letters + list(VOWELS) if letters and rng.random() < 0.6 else list(LETTERS)
        return "".join(rng.choice(pool) for _ in range(rng.randint(1, src["nmax"])))
    if k == "grid":
        r, c, p = rng.randint(1, src["rmax"]), rng.randint(1, src["cmax"]), rng.random()
        return ["".join("#" if rng.random() < p else "." for _ in range(c)) for _ in range(r)]
    raise ValueError(k)


def case_key(src: dict[str, Any], case: Any) -> int:
    """The integer the timeout defect's countdown starts from (n, a, len(list), len(s), rows)."""
    k = src["kind"]
    return case if k == "int" else case[0] if k == "pair" else len(case)


# ----------------------------------------------------------------------------- names and code
def source_names(src_kind: str, fmt: str, rng: random.Random) -> dict[str, str]:
    """Variable / parameter names; stdin programs use the statement's letters (n, a, s, g)."""
    if fmt == "stdin":
        return {
            "int": {"n": "n"},
            "pair": {"a": "a", "b": "b"},
            "list": {"a": "a"},
            "str": {"s": "s"},
            "grid": {"g": "g"},
        }[src_kind]
    if src_kind == "int":
        return {"n": rng.choice(["n", "x", "k", "value"])}
    if src_kind == "pair":
        a, b = rng.choice([("a", "b"), ("x", "y"), ("m", "n")])
        return {"a": a, "b": b}
    if src_kind == "list":
        return {"a": rng.choice(["nums", "arr", "values", "a"])}
    if src_kind == "str":
        return {"s": rng.choice(["s", "word", "text"])}
    return {"g": rng.choice(["grid", "rows"])}


def bind_case(src: dict[str, Any], names: dict[str, str], case: Any) -> dict[str, Any]:
    """Namespace binding the source variables to one case (for executing the core logic)."""
    k = src["kind"]
    if k == "int":
        return {names["n"]: case}
    if k == "pair":
        return {names["a"]: case[0], names["b"]: case[1]}
    if k == "list":
        return {names["a"]: list(case)}
    if k == "str":
        return {names["s"]: case}
    return {names["g"]: list(case)}


class Lines:
    """Indented code lines."""

    def __init__(self, indent: int = 0) -> None:
        self.lines: list[str] = []
        self.indent = indent

    def add(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)


def reducer_vars(red: dict[str, Any]) -> list[str]:
    """The variables a reducer defines (several for per-class counters)."""
    if red["kind"] == "loop" and red["acc"] == "counts":
        return [f"c{i + 1}" for i in range(len(red["chain"]["conds"]) + 1)]
    return [red["var"]]


def _chain_code(code: Lines, chain: dict[str, Any], subj: str, act: Callable[[Lines, list], None]) -> None:
    """if/elif/else over ``chain['conds']`` with ``chain['acts']`` (one more act for 'else' unless None)."""
    conds, acts = chain["conds"], chain["acts"]
    for i, c in enumerate(conds):
        code.add(f"{'if' if i == 0 else 'elif'} {cond_code(c, subj)}:")
        code.indent += 1
        act(code, acts[i])
        code.indent -= 1
    if len(acts) > len(conds) and acts[-1] is not None:
        code.add("else:")
        code.indent += 1
        act(code, acts[-1])
        code.indent -= 1


def _nested(code: Lines, a: list, subj: str, leaf: Callable[[Lines, list], None]) -> None:
    if a[0] == "if":
        code.add(f"if {cond_code(a[1], subj)}:")
        code.indent += 1
        leaf(code, a[2])
        code.indent -= 1
        code.add("else:")
        code.indent += 1
        leaf(code, a[3])
        code.indent -= 1
    else:
        leaf(code, a)


def _loop_code(
    code: Lines, red: dict[str, Any], src: dict[str, Any], names: dict[str, str], probe: bool = False
) -> None:
    k = src["kind"]
    acc = red["acc"]
    if acc == "counts":
        code.add(" = ".join(reducer_vars(red)) + " = 0")
    else:
        code.add(f"{red['var']} = 0")
    if k == "str":
        code.add(f"for ch in {names['s']}:")
        elem = "ch"
    elif k == "grid":
        code.add(f"for row in {names['g']}:")
        code.indent += 1
        code.add("x = row.count('#')")
        code.indent -= 1
        elem = "x"
    else:
        code.add(f"for x in {names['a']}:")
        elem = "x"
    code.indent += 1
    if red.get("map"):
        code.add(f"y = {expr_code(red['map'], elem)}")
        elem = "y"
    if probe:
        code.add(f"_probe({elem})")
        code.indent -= 1
        return
    var = red["var"]

    def leaf(c: Lines, a: list) -> None:
        kind = a[0]
        if kind == "add":
            c.add(f"{var} += {expr_code(a[1], elem)}")
        elif kind == "sub":
            c.add(f"{var} -= {expr_code(a[1], elem)}")
        elif kind == "addc":
            c.add(f"{var} += {a[1]}")
        elif kind == "subc":
            c.add(f"{var} -= {a[1]}")
        elif kind == "inc":
            c.add(f"{a[1]} += 1")
        else:
            raise ValueError(a)

    _chain_code(code, red["chain"], elem, lambda c, a: _nested(c, a, elem, leaf))
    code.indent -= 1


def _builtin_code(red: dict[str, Any], names: dict[str, str]) -> str:
    f = red["fn"]
    a, s, g = names.get("a"), names.get("s"), names.get("g")
    table = {
        "sum": f"sum({a})",
        "max": f"max({a})",
        "min": f"min({a})",
        "range": f"max({a}) - min({a})",
        "distinct": f"len(set({a}))",
        "countk": f"{a}.count({red.get('k')})",
        "first": f"{a}[0]",
        "last": f"{a}[-1]",
        "len": f"len({s})",
        "countc": f"{s}.count('{red.get('c')}')",
        "sdistinct": f"len(set({s}))",
        "reverse": f"{s}[::-1]",
        "upper": f"{s}.upper()",
        "cells": f"sum(row.count('#') for row in {g})",
        "maxrow": f"max(row.count('#') for row in {g})",
        "rows": f"len({g})",
    }
    return table[f]


def core_lines(
    comp: dict[str, Any], names: dict[str, str], fmt: str, indent: int = 0, probe: tuple | None = None
) -> list[str]:
    """The logic after the input is available; ``probe`` stops early at a ``_probe(...)`` call."""
    code = Lines(indent)
    src = comp["src"]
    for i, red in enumerate(comp["reducers"]):
        if red["kind"] == "builtin":
            code.add(f"{red['var']} = {_builtin_code(red, names)}")
        elif red["kind"] == "combine":
            a, b = names["a"], names["b"]
            expr = {
                "+": f"{a} + {b}",
                "-": f"{a} - {b}",
                "*": f"{a} * {b}",
                "max": f"max({a}, {b})",
                "min": f"min({a}, {b})",
                "absdiff": f"abs({a} - {b})",
            }[red["op"]]
            code.add(f"{red['var']} = {expr}")
        elif red["kind"] == "loop":
            if probe == ("loop", i):
                _loop_code(code, red, src, names, probe=True)
                return code.lines
            _loop_code(code, red, src, names)
    value = value_var(comp, names)
    for j, e in enumerate(comp["post"]):
        base = value if j == 0 else "v"
        code.add(f"v = {expr_code(e, base)}")
    if comp["post"]:
        value = "v"
    other = reducer_vars(comp["reducers"][1])[0] if len(comp["reducers"]) > 1 else None
    if probe == ("out",):
        code.add(f"_probe({value}, {other})" if other else f"_probe({value})")
        return code.lines
    out = comp["out"]

    def emit(c: Lines, exprs: list[str]) -> None:
        if fmt == "stdin":
            c.add(f"print({', '.join(exprs)})")
        else:
            c.add(f"return {exprs[0]}" if len(exprs) == 1 else f"return [{', '.join(exprs)}]")

    if out["kind"] == "plain":
        emit(code, [value])
    elif out["kind"] == "multi":
        emit(code, reducer_vars(comp["reducers"][0]))
    else:

        def leaf(c: Lines, r: list) -> None:
            emit(c, [f'"{r[1]}"' if r[0] == "label" else expr_code(r[1], value)])

        def act(c: Lines, r: list) -> None:
            _nested(c, r, value, leaf)

        conds, acts = out["chain"]["conds"], out["chain"]["acts"]
        for i, cnd in enumerate(conds):
            code.add(f"{'if' if i == 0 else 'elif'} {cond_code(cnd, value)}:")
            code.indent += 1
            act(code, acts[i])
            code.indent -= 1
        code.add("else:")
        code.indent += 1
        act(code, acts[-1])
        code.indent -= 1
    return code.lines


def value_var(comp: dict[str, Any], names: dict[str, str]) -> str:
    """Name of the (first) value the output stage looks at, before ``post``."""
    if comp["src"]["kind"] == "int":
        return names["n"]
    return reducer_vars(comp["reducers"][0])[0]


def read_lines(src: dict[str, Any]) -> list[str]:
    """stdin lines that read one case (the statement's input format)."""
    return {
        "int": ["n = int(input())"],
        "pair": ["a, b = map(int, input().split())"],
        "list": ["n = int(input())", "a = list(map(int, input().split()))"],
        "str": ["s = input()"],
        "grid": ["r, c = map(int, input().split())", "g = [input() for _ in range(r)]"],
    }[src["kind"]]


def stdin_key_expr(src: dict[str, Any], multi: bool) -> str:
    return "t" if multi else {"int": "n", "pair": "a", "list": "n", "str": "len(s)", "grid": "r"}[src["kind"]]


def call_key_expr(src: dict[str, Any], names: dict[str, str]) -> str | None:
    k = src["kind"]
    return {
        "int": names.get("n"),
        "pair": names.get("a"),
        "list": f"len({names.get('a')})",
        "str": f"len({names.get('s')})",
        "grid": f"len({names.get('g')})",
    }[k]


_TYPES = {"int": "int", "list": "list[int]", "str": "str", "grid": "list[str]"}


def signature_line(comp: dict[str, Any], fmt: str, fn_name: str, names: dict[str, str]) -> str:
    """``def fn(args):`` (call) or the method line of ``class Solution`` (class), as in starter code."""
    k = comp["src"]["kind"]
    params = [names["a"], names["b"]] if k == "pair" else [next(iter(names.values()))]
    if fmt == "call":
        return f"def {fn_name}({', '.join(params)}):"
    ptype = "int" if k == "pair" else _TYPES[k]
    ret = return_type(comp)
    return f"    def {fn_name}(self, {', '.join(f'{p}: {ptype}' for p in params)}) -> {ret}:"


def return_type(comp: dict[str, Any]) -> str:
    out = comp["out"]
    if out["kind"] == "multi":
        return "list[int]"
    if out["kind"] == "plain":
        red = comp["reducers"][0] if comp["reducers"] else None
        return "str" if red and red["kind"] == "builtin" and red["fn"] in ("reverse", "upper") else "int"
    leaves = list(out["chain"]["acts"])
    flat = [x for a in leaves for x in ((a[2], a[3]) if a[0] == "if" else (a,))]
    return "str" if all(r[0] == "label" for r in flat) else "int"


def render_program(
    comp: dict[str, Any],
    fmt: str,
    names: dict[str, str],
    fn_name: str | None,
    inject: list[str] | None = None,
    header: list[str] | None = None,
) -> str:
    """The full canonical solution. ``inject`` lines go right after the input is read (defects)."""
    lines: list[str] = list(header or [])
    inject = inject or []
    if fmt == "stdin":
        if comp["multi"]:
            lines.append("t = int(input())")
            lines.extend(inject)
            lines.append("for _ in range(t):")
            lines.extend("    " + ln for ln in read_lines(comp["src"]))
            lines.extend(core_lines(comp, names, fmt, indent=1))
        else:
            lines.extend(read_lines(comp["src"]))
            lines.extend(inject)
            lines.extend(core_lines(comp, names, fmt))
    elif fmt == "call":
        assert fn_name is not None  # call and class formats always name their function
        lines.append(signature_line(comp, fmt, fn_name, names))
        lines.extend("    " + ln for ln in inject)
        lines.extend(core_lines(comp, names, fmt, indent=1))
    else:
        assert fn_name is not None
        lines.append("class Solution:")
        lines.append(signature_line(comp, fmt, fn_name, names))
        lines.extend("        " + ln for ln in inject)
        lines.extend(core_lines(comp, names, fmt, indent=2))
    return "\n".join(lines) + "\n"


def count_ifs(source: str) -> int:
    """``if`` and ``elif`` statements: the paper's conditional statements, counted as CCCS counts them."""
    return len(find_conditional_statements(source))


# ----------------------------------------------------------------------------- running in-process
def format_stdin(src: dict[str, Any], cases: list[Any], multi: bool) -> str:
    def one(case: Any) -> str:
        k = src["kind"]
        if k == "int":
            return f"{case}\n"
        if k == "pair":
            return f"{case[0]} {case[1]}\n"
        if k == "list":
            return f"{len(case)}\n{' '.join(map(str, case))}\n"
        if k == "str":
            return f"{case}\n"
        return f"{len(case)} {len(case[0])}\n" + "".join(row + "\n" for row in case)

    return (f"{len(cases)}\n" if multi else "") + "".join(one(c) for c in cases)


def call_args(src: dict[str, Any], case: Any) -> list:
    k = src["kind"]
    if k == "pair":
        return [case[0], case[1]]
    return [copy.deepcopy(case)]


class _Branches:
    """Records which way every ``if`` went: the set of (line, outcome) pairs."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []

    def __call__(self, line: int, value: Any) -> Any:
        key = (line, bool(value))
        if key not in self.seen:
            self.seen.append(key)
        return value


def instrument(source: str) -> tuple[Any, list[tuple[int, bool]]]:
    """Compile ``source`` with every ``if`` test wrapped in ``_br(line, test)``; also the branch universe."""
    tree = ast.parse(source)
    universe: list[tuple[int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            universe += [(node.lineno, True), (node.lineno, False)]
            node.test = ast.Call(
                func=ast.Name(id="_br", ctx=ast.Load()), args=[ast.Constant(node.lineno), node.test], keywords=[]
            )
    ast.fix_missing_locations(tree)
    return compile(tree, "<solution>", "exec"), sorted(universe)


def run_in_process(code: Any, fmt: str, fn_name: str | None, test_input: Any, br: Callable | None = None) -> Any:
    """Run one compiled solution on one test: stdin -> printed text, call/class -> return value.

    ``print``/``input`` are replaced by exact equivalents for the ints and strings these programs
    print, so the text is byte for byte what the program writes under a real interpreter.
    """
    out: list[str] = []
    g: dict[str, Any] = {"__name__": "__main__", "_br": br or (lambda _line, v: v)}
    if fmt == "stdin":
        feed = iter(test_input.split("\n"))
        g["input"] = lambda *_: next(feed)
        g["print"] = lambda *args, sep=" ", end="\n": out.append(sep.join(str(a) for a in args) + end)
        exec(code, g)
        return "".join(out)
    exec(code, g)
    assert fn_name is not None  # call and class formats always name their function
    fn = getattr(g["Solution"](), fn_name) if fmt == "class" else g[fn_name]
    return fn(*copy.deepcopy(test_input))


# ----------------------------------------------------------------------------- sampling compositions
SOURCE_WEIGHTS: dict[str, dict[str, float]] = {
    "introductory": {"int": 0.3, "pair": 0.15, "list": 0.35, "str": 0.2, "grid": 0.0},
    "interview": {"int": 0.15, "pair": 0.1, "list": 0.4, "str": 0.15, "grid": 0.2},
    "competition": {"int": 0.1, "pair": 0.1, "list": 0.45, "str": 0.15, "grid": 0.2},
}
MULTI_RATE = {"introductory": 0.0, "interview": 0.3, "competition": 0.5}
BUILTINS = {
    "list": ("sum", "max", "min", "range", "distinct", "countk", "first", "last"),
    "str": ("len", "countc", "sdistinct"),
    "grid": ("cells", "maxrow", "rows"),
}
NON_NEGATIVE = ("len", "countc", "sdistinct", "distinct", "countk", "cells", "maxrow", "rows")
POST_KINDS = ("mul", "add", "sub", "affine", "mod", "fdiv", "abs", "neg")
OUT_EXPR_KINDS = ("id", "mul", "add", "sub", "neg", "mod", "abs")
MAP_KINDS = ("mul", "add", "sub", "mod", "abs", "sq", "neg", "affine")
SUM_ACT_EXPR = ("id", "mul", "add", "sq", "abs")


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = [k for k in weights if weights[k] > 0]
    return rng.choices(keys, [weights[k] for k in keys])[0]


def comp_constants(comp: Any) -> tuple[list[int], list[str]]:
    """Every int and single letter in a composition: hints that steer test inputs onto boundaries."""
    ints: list[int] = []
    letters: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, bool):
            return
        if isinstance(x, int):
            ints.append(x)
        elif isinstance(x, str) and len(x) == 1 and x in LETTERS:
            letters.append(x)
        elif isinstance(x, list):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for key in sorted(x):
                if key not in ("nmax", "rmax", "cmax", "multi", "var"):
                    walk(x[key])

    walk(comp)
    return sorted(set(ints)), sorted(set(letters))


def probe(comp: dict[str, Any], where: tuple, rng: random.Random, n_cases: int = 40) -> tuple[list, list]:
    """Values seen at ``where`` (an element loop or the output stage) over sampled inputs."""
    names = source_names(comp["src"]["kind"], "stdin", rng)
    code = compile("\n".join(core_lines(comp, names, "stdin", probe=where)), "<probe>", "exec")
    vals: list = []
    others: list = []

    def rec(v: Any, o: Any = None) -> None:
        vals.append(v)
        others.append(o)

    hints, letters = comp_constants(comp["src"])
    for _ in range(n_cases):
        env = bind_case(comp["src"], names, sample_case(rng, comp["src"], hints, letters))
        env["_probe"] = rec
        exec(code, env)
    return vals, others


def _labels(rng: random.Random, n: int) -> list[str]:
    theme = list(rng.choice(LABEL_THEMES))
    if n <= len(theme):
        start = rng.randint(0, len(theme) - n)
        picked = theme[start : start + n]
        if rng.random() < 0.3:
            rng.shuffle(picked)
        return picked
    extra = [w for w in EXTRA_LABELS if w not in theme]
    rng.shuffle(extra)
    return theme + extra[: n - len(theme)]


def _elem_chain(
    rng: random.Random, comp: dict[str, Any], red: dict[str, Any], idx: int, n_conds: int, is_char: bool
) -> tuple[list[list[Any]], list[Any]]:
    comp["reducers"].append({**red, "chain": {"conds": [], "acts": []}})
    vals, _ = probe(comp, ("loop", idx), rng)
    comp["reducers"].pop()
    if is_char:
        return char_chain(rng, vals, n_conds), vals
    if n_conds == 1:
        for _ in range(6):
            kind = rng.choice(["cut", "cut", "parity", "div"])
            c: list[Any]
            if kind == "parity":
                c = [rng.choice(["even", "odd"])]
            elif kind == "div":
                c = ["div", rng.randint(3, 5)]
            else:
                t = _quantile(sorted(vals), rng.uniform(0.25, 0.75))
                c = [rng.choice(["lt", "le", "gt", "ge"]), t]
            m = _arm_masses([c], vals)
            if min(m) >= 0.1:
                return [c], vals
        raise Reject("filter condition")
    return threshold_chain(
        rng, vals, n_conds, raw=not red.get("map") and comp["src"]["kind"] == "list", allow_mixed=True
    ), vals


def arm_values(conds: list[list], vals: list, arm: int, others: list | None = None) -> list:
    """The sampled values that reach arm ``arm`` of the chain (the last arm is 'else')."""
    out = []
    for i, x in enumerate(vals):
        o = others[i] if others else None
        if next((j for j, c in enumerate(conds) if cond_eval(c, x, o)), len(conds)) == arm:
            out.append(x)
    return out


def _nest_cond(rng: random.Random, arm_vals: list, is_char: bool) -> list:
    """A condition that splits the values reaching an arm, both ways with fair probability."""
    cands: list[list[Any]]
    if is_char:
        cands = [["clt", ch] for ch in LETTERS[3:24]] + [["vowel"]]
    else:
        sv = sorted(arm_vals)
        med = _quantile(sv, 0.5) if sv else 0
        cands = [["even"], ["odd"], ["div", 3], ["div", 4], ["lt", med], ["ge", med], ["gt", med]]
    rng.shuffle(cands)
    for c in cands:
        hit = sum(cond_eval(c, x) for x in arm_vals)
        if len(arm_vals) >= 4 and 0.2 <= hit / len(arm_vals) <= 0.8:
            return c
    raise Reject("no condition splits the arm")


def pick_nested(
    rng: random.Random,
    conds: list[list],
    vals: list,
    others: list | None,
    slots: list[int],
    n_nested: int,
    is_char: bool,
) -> dict[int, list]:
    """Arms (among ``slots``) that get an inner if/else, with a condition splitting each arm."""
    slots = list(slots)
    rng.shuffle(slots)
    picked: dict[int, list] = {}
    for i in slots:
        if len(picked) == n_nested:
            break
        try:
            picked[i] = _nest_cond(rng, arm_values(conds, vals, i, others), is_char)
        except Reject:
            continue
    if len(picked) < n_nested:
        raise Reject("no condition splits the arm")
    return picked


def _sum_act(rng: random.Random, is_char: bool) -> list:
    if is_char or rng.random() < 0.35:
        return [rng.choice(["addc", "addc", "subc"]), rng.randint(1, 9)]
    return [rng.choice(["add", "add", "sub"]), sample_expr(rng, SUM_ACT_EXPR)]


def sample_loop(
    rng: random.Random, comp: dict[str, Any], tier: str, idx: int, acc: str, n_conds: int, n_nested: int, var: str
) -> dict[str, Any]:
    """An element loop: filter (1 cond, no else), piecewise sum, or per-class counters."""
    kind = comp["src"]["kind"]
    is_char = kind == "str"
    red: dict[str, Any] = {"kind": "loop", "acc": acc, "var": var}
    if kind == "list" and rng.random() < (0.25 if tier == "introductory" else 0.45):
        red["map"] = sample_expr(rng, MAP_KINDS)
    conds, vals = _elem_chain(rng, comp, red, idx, n_conds, is_char)
    if acc == "counts":
        acts: list = [["inc", f"c{i + 1}"] for i in range(n_conds + 1)]
    elif acc == "count":
        acts = [["inc", var], None]
    elif acc == "filter_sum":
        acts = [["add", ["id"] if rng.random() < 0.6 else sample_expr(rng, SUM_ACT_EXPR)], None]
    else:  # piecewise sum
        for _ in range(8):
            acts = [_sum_act(rng, is_char) for _ in range(n_conds + 1)]
            if _distinct_leaves(acts):
                break
        else:
            raise Reject("repeated actions")
        if n_nested == 0 and rng.random() < 0.25:
            acts[-1] = None
        nested = pick_nested(
            rng, conds, vals, None, [i for i in range(len(acts)) if acts[i] is not None], n_nested, is_char
        )
        for i in sorted(nested):
            acts[i] = ["if", nested[i], *_two_distinct(lambda: _sum_act(rng, is_char))]
    red["chain"] = {"conds": conds, "acts": acts}
    if acc in ("filter_sum", "count"):
        red["acc"] = "sum" if acc == "filter_sum" else "count"
    return red


def _distinct_leaves(acts: list) -> bool:
    leaves = [json.dumps(x) for a in acts if a is not None for x in ((a[2], a[3]) if a[0] == "if" else (a,))]
    return len(set(leaves)) == len(leaves)


def _two_distinct(make: Callable[[], list]) -> list[list]:
    """Two different leaves for an inner if/else (same leaves would make the if pointless)."""
    first = make()
    for _ in range(8):
        second = make()
        if second != first:
            return [first, second]
    raise Reject("identical nested leaves")


def _result(rng: random.Random, label_pool: list[str], use_labels: bool) -> list:
    return ["label", label_pool.pop(0)] if use_labels else ["expr", sample_expr(rng, OUT_EXPR_KINDS)]


def sample_out_chain(rng: random.Random, comp: dict[str, Any], n_conds: int, n_nested: int, fmt: str) -> dict:
    comp["out"] = {"kind": "probe"}
    vals, others = probe(comp, ("out",), rng)
    other = reducer_vars(comp["reducers"][1])[0] if len(comp["reducers"]) > 1 else None
    raw = comp["src"]["kind"] == "int" and not comp["post"]
    conds = threshold_chain(
        rng, vals, n_conds, raw=raw, allow_mixed=True, others=others if other else None, other_name=other
    )
    labels = _labels(rng, n_conds + 1 + n_nested)
    style = rng.random()
    all_labels = style < 0.6 or (fmt == "class" and style < 0.8)
    all_exprs = not all_labels and (fmt == "class" or style > 0.85)
    pick = (lambda: True) if all_labels else (lambda: False) if all_exprs else (lambda: rng.random() < 0.5)
    nested = pick_nested(rng, conds, vals, others if other else None, list(range(n_conds + 1)), n_nested, False)
    for _ in range(8):  # every leaf says something different, else an arm would be pointless
        pool = list(labels)
        acts = [
            ["if", nested[i], *_two_distinct(lambda: _result(rng, pool, pick()))]  # noqa: B023 (called at once)
            if i in nested
            else _result(rng, pool, pick())
            for i in range(n_conds + 1)
        ]
        if _distinct_leaves(acts):
            break
    else:
        raise Reject("repeated results")
    return {"kind": "chain", "chain": {"conds": conds, "acts": acts}}


def sample_composition(
    rng: random.Random, tier: str, fmt: str, if_bands: dict[str, tuple[int, int]] | None = None
) -> dict[str, Any]:
    """One composition of ``tier`` (its ``if`` count within ``if_bands``, default ``IF_BANDS``); may raise Reject."""
    kind = _weighted(rng, SOURCE_WEIGHTS[tier])
    comp: dict[str, Any] = {
        "src": sample_source(rng, kind),
        "reducers": [],
        "post": [],
        "out": {"kind": "plain"},
        "multi": 0,
    }
    if fmt == "stdin" and rng.random() < MULTI_RATE[tier]:
        comp["multi"] = rng.choice([3, 4, 5])
    lo_if, hi_if = (if_bands or IF_BANDS)[tier]
    target = rng.randint(lo_if, min(hi_if, 10))
    ints_ok = kind in ("int", "pair")
    if kind == "pair":
        comp["reducers"].append(
            {"kind": "combine", "op": rng.choice(["+", "-", "*", "max", "min", "absdiff"]), "var": "v"}
        )
    used = 0
    if not ints_ok:
        # element stage: how many ifs does it spend?
        if tier == "introductory":
            plan = rng.choice(["builtin", "builtin", "filter", "filter", "counts"]) if target else "builtin"
        elif tier == "interview":
            plan = rng.choice(["piecewise", "piecewise", "counts", "filter"])
        else:
            plan = "piecewise"
        if plan == "builtin":
            fns = BUILTINS[kind] + (("reverse", "upper") if kind == "str" and tier == "introductory" else ())
            fn = rng.choice(fns)
            red: dict[str, Any] = {"kind": "builtin", "fn": fn, "var": "v"}
            if fn == "countk":
                red["k"] = (
                    rng.randint(comp["src"]["lo"], comp["src"]["hi"])
                    if comp["src"]["hi"] - comp["src"]["lo"] < 12
                    else rng.randint(comp["src"]["lo"], comp["src"]["lo"] + 10)
                )
            if fn == "countc":
                red["c"] = rng.choice(LETTERS)
            comp["reducers"].append(red)
            if fn in ("reverse", "upper"):
                return comp
        elif plan == "filter":
            acc = rng.choice(["filter_sum", "count"]) if kind == "list" else "count"
            comp["reducers"].append(
                sample_loop(rng, comp, tier, 0, acc, 1, 0, "total" if acc == "filter_sum" else "cnt")
            )
            used = 1
        elif plan == "counts":
            n = 1 if tier == "introductory" else rng.randint(3, 4)
            comp["reducers"].append(sample_loop(rng, comp, tier, 0, "counts", n, 0, "c1"))
            comp["out"] = {"kind": "multi"}
            used = n
        else:
            n_conds = rng.randint(1, 2) if tier == "interview" else rng.randint(2, 4)
            n_nested = 0 if tier == "interview" else rng.randint(1, 2)
            comp["reducers"].append(sample_loop(rng, comp, tier, 0, "piecewise", n_conds, n_nested, "score"))
            used = n_conds + n_nested
        if tier == "competition" and comp["out"]["kind"] != "multi" and rng.random() < 0.5:
            if rng.random() < 0.5 and kind != "grid":
                comp["reducers"].append(sample_loop(rng, comp, tier, len(comp["reducers"]), "count", 1, 0, "hits"))
                used += 1
            elif kind == "list":
                comp["reducers"].append({"kind": "builtin", "fn": rng.choice(["max", "min"]), "var": "m"})
    if comp["out"]["kind"] == "multi":
        if not lo_if <= used <= hi_if:
            raise Reject("counts outside band")
        return comp
    n_post = {
        "introductory": rng.choice([0, 0, 1]),
        "interview": rng.choice([0, 1]),
        "competition": rng.choice([0, 1, 1, 2]),
    }[tier]
    if ints_ok and tier == "introductory" and target == 0:
        n_post = max(1, n_post)
    red0 = comp["reducers"][0] if comp["reducers"] else {}
    non_negative = red0.get("op") == "absdiff" or red0.get("acc") == "count" or red0.get("fn") in NON_NEGATIVE
    kinds = tuple(k for k in POST_KINDS if not (k == "abs" and non_negative)) + (("sq",) if kind == "int" else ())
    comp["post"] = []
    for _ in range(n_post):  # no |x| of a count, no |(|x|)|
        e = sample_expr(rng, kinds)
        comp["post"].append(e)
        kinds = tuple(k for k in kinds if k != e[0] or k not in ("abs", "neg"))
    remaining = target - used
    if len(comp["reducers"]) > 1 and not (comp["src"]["kind"] == "pair") and remaining < 2:
        raise Reject("second value would be unused")
    if remaining <= 0:
        if used < lo_if or (tier == "introductory" and not used and kind in ("int", "pair") and not comp["post"]):
            raise Reject("band")
        return comp
    n_nested = 0
    if tier == "competition":
        n_nested = min(remaining - 2, rng.randint(1, 2)) if remaining >= 4 else (1 if remaining >= 3 else 0)
    n_conds = remaining - n_nested
    if n_conds > 6:
        raise Reject("chain too long")
    comp["out"] = sample_out_chain(rng, comp, n_conds, n_nested, fmt)
    return comp


# ----------------------------------------------------------------------------- choosing tests
def render_case_input(comp: dict[str, Any], fmt: str, cases: list[Any]) -> Any:
    return format_stdin(comp["src"], cases, bool(comp["multi"])) if fmt == "stdin" else call_args(comp["src"], cases[0])


def choose_tests(
    rng: random.Random,
    comp: dict[str, Any],
    program: str,
    fmt: str,
    fn_name: str | None,
    n_tests: int,
    max_candidates: int = 240,
) -> tuple[list[list[Any]], list[Any], list[Any]]:
    """Test cases that drive every ``if`` both ways, then varied extra tests up to ``n_tests``.

    Returns (cases per test, inputs, outputs); outputs come from running ``program`` itself.
    """
    code_i, universe = instrument(program)
    hints, letters = comp_constants(comp)
    cands: list[tuple[list[Any], Any, Any, list]] = []
    seen_inputs: list[str] = []
    chosen: list[int] = []
    covered: list[tuple[int, bool]] = []
    draws = 0
    while len(cands) < max_candidates and draws < 4 * max_candidates:
        for _ in range(12):
            draws += 1
            n_cases = rng.randint(1, comp["multi"]) if comp["multi"] else 1
            cases = [sample_case(rng, comp["src"], hints, letters) for _ in range(n_cases)]
            inp = render_case_input(comp, fmt, cases)
            key = repr(inp)
            if key in seen_inputs:
                continue
            seen_inputs.append(key)
            br = _Branches()
            try:
                out = run_in_process(code_i, fmt, fn_name, inp, br)
            except Exception as exc:  # a canonical program must not crash on its own input space
                raise Reject(f"canonical solution raised {type(exc).__name__}") from None
            cands.append((cases, inp, out, br.seen))
        while True:  # greedy set cover over (if, outcome) pairs
            best, gain = -1, 0
            for i, c in enumerate(cands):
                if i in chosen:
                    continue
                g = sum(1 for b in c[3] if b not in covered)
                if g > gain:
                    best, gain = i, g
            if best < 0:
                break
            chosen.append(best)
            covered += [b for b in cands[best][3] if b not in covered]
        if len(covered) == len(universe) and len(cands) >= 2 * n_tests:
            break
    if len(covered) < len(universe) or len(chosen) > n_tests:
        raise Reject("branches not coverable within the test budget")
    outs_seen = [repr(cands[i][2]) for i in chosen]
    rest = [i for i in range(len(cands)) if i not in chosen]
    for prefer_new in (True, False):  # fill: first tests with outputs not seen yet, then any
        for i in rest:
            if len(chosen) >= n_tests:
                break
            if i in chosen or (prefer_new and repr(cands[i][2]) in outs_seen):
                continue
            chosen.append(i)
            outs_seen.append(repr(cands[i][2]))
    if len(chosen) < n_tests:
        raise Reject("not enough distinct tests")
    order = list(chosen)
    rng.shuffle(order)
    plain = compile(program, "<solution>", "exec")
    outputs = [run_in_process(plain, fmt, fn_name, cands[i][1]) for i in order]
    return [cands[i][0] for i in order], [cands[i][1] for i in order], outputs
