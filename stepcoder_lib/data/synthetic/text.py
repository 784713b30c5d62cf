"""Natural-language statements for generated problems, rendered from the same composition.

Every block has several paraphrases (synonyms, sentence order, prose versus bullet lists, words
versus symbols, small numbers as digits or words), so a model must read the statement rather than
recognise a template. Each paraphrase states exactly what the canonical code does: chains are
told in order with "otherwise", remainders are non-negative, divisions round down.

``plain=True`` is one wording per composition for models too small to learn the paraphrases in
the time they have (the ``tiny`` profile): always the first paraphrase, digits, the sentence style
of chains, and the program's own names and Python text wherever the statement talks about a
named value ("Let total be ...", "If total < 26, print total % 7", "Let v be total - 3"), so
the statement and the code say the same thing in the same tokens. Elements of a list or string
are still described in words ("the heights that are at least 20"). The random stream is consumed
as in the varied wording, so a problem's code, tests and names are the same either way.
"""

from __future__ import annotations

import json
import random
from typing import Any

from stepcoder_lib.data.synthetic.compose import VOWELS, cond_code, expr_code, reducer_vars, value_var

NUM_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
LIST_NOUNS = (
    ("numbers", "number"),
    ("integers", "integer"),
    ("values", "value"),
    ("temperatures", "temperature"),
    ("scores", "score"),
    ("prices", "price"),
    ("heights", "height"),
    ("marks", "mark"),
    ("readings", "reading"),
    ("weights", "weight"),
)
VALUE_NAMES = ("S", "T", "X", "V", "R", "K", "Q")
NAMES = ("Vasya", "Petya", "Alice", "Bob", "Masha", "Chef", "Takahashi", "Monocarp", "Polycarp", "Nastya")


class Writer:
    """Paraphrase helpers bound to one problem's random stream."""

    def __init__(self, rng: random.Random, fmt: str, words_p: float = 0.15, plain: bool = False) -> None:
        self.rng, self.fmt, self.words_p, self.plain = rng, fmt, words_p, plain

    def pick(self, *options: str) -> str:
        choice = self.rng.choice(options)
        return options[0] if self.plain else choice

    def num(self, k: int) -> str:
        """A number in running text: digits, or a word for small non-negative ones (safe there)."""
        if 0 <= k <= 10 and self.rng.random() < self.words_p and not self.plain:
            return NUM_WORDS[k]
        return str(k)

    # ------------------------------------------------------------------ verbs
    def out_verb(self) -> str:
        return self.pick("print", "output") if self.fmt == "stdin" else "return"

    # ------------------------------------------------------------------ expressions
    def expr(self, e: list, subj: str) -> str:
        """The expression in words or symbols; ``plain``: the program's own text when the subject is a name."""
        text = self._expr(e, subj)  # always drawn, so the random stream is the same in both wordings
        return expr_code(e, subj) if self.plain and subj.isidentifier() else text

    def _expr(self, e: list, subj: str) -> str:
        k, sym = e[0], len(subj) <= 6 and " " not in subj
        if k == "id":
            return subj
        if k == "mul":
            if e[1] == 2 and self.rng.random() < 0.4 and not self.plain:
                return f"twice {subj}"
            return self.pick(
                f"{subj} multiplied by {self.num(e[1])}",
                f"{self.num(e[1])} times {subj}",
                *((f"{e[1]}·{subj}",) if sym else ()),
            )
        if k == "add":
            return self.pick(
                f"{subj} plus {self.num(e[1])}",
                f"{subj} increased by {self.num(e[1])}",
                *((f"{subj} + {e[1]}",) if sym else ()),
            )
        if k == "sub":
            return self.pick(
                f"{subj} minus {self.num(e[1])}",
                f"{subj} decreased by {self.num(e[1])}",
                *((f"{subj} - {e[1]}",) if sym else ()),
            )
        if k == "affine":
            sign, c = ("+", e[2]) if e[2] >= 0 else ("-", -e[2])
            word = "plus" if sign == "+" else "minus"
            return self.pick(
                f"{subj} multiplied by {self.num(e[1])}, {word} {self.num(c)}",
                f"{e[1]}·{subj} {sign} {c}" if sym else f"{e[1]} times {subj} {word} {c}",
            )
        if k == "mod":
            return self.pick(
                f"the remainder of {subj} divided by {e[1]} (a value from 0 to {e[1] - 1})",
                f"{subj} modulo {e[1]} (always between 0 and {e[1] - 1})",
            )
        if k == "fdiv":
            return self.pick(f"{subj} divided by {self.num(e[1])}, rounded down", f"the floor of {subj} / {e[1]}")
        if k == "sq":
            return self.pick(f"the square of {subj}", f"{subj} squared")
        if k == "abs":
            return self.pick(f"the absolute value of {subj}", *((f"|{subj}|",) if sym else ()))
        if k == "neg":
            return self.pick(
                f"the negation of {subj}", f"{subj} with its sign changed", *((f"-{subj}",) if sym else ())
            )
        raise ValueError(e)

    def update(self, e: list, name: str) -> str:
        """``name = e(name)`` as an instruction."""
        k = e[0]
        if k == "mul":
            return self.pick(f"multiply {name} by {self.num(e[1])}", f"replace {name} with {self.expr(e, name)}")
        if k == "add":
            return self.pick(f"add {self.num(e[1])} to {name}", f"increase {name} by {self.num(e[1])}")
        if k == "sub":
            return self.pick(f"subtract {self.num(e[1])} from {name}", f"decrease {name} by {self.num(e[1])}")
        if k == "fdiv":
            return self.pick(
                f"divide {name} by {self.num(e[1])}, rounding down", f"replace {name} with {self.expr(e, name)}"
            )
        if k == "neg":
            return self.pick(f"change the sign of {name}", f"multiply {name} by -1")
        if k == "sq":
            return self.pick(f"square {name}", f"replace {name} with {name} squared")
        if k == "abs":
            return self.pick(
                f"replace {name} with its absolute value", f"make {name} non-negative by dropping its sign"
            )
        return self.pick(f"replace {name} with {self.expr(e, name)}", f"let the new {name} be {self.expr(e, name)}")

    # ------------------------------------------------------------------ conditions
    def pred(self, c: list, plural: bool = False, other: str = "") -> str:
        """Predicate phrase for condition ``c`` ('is less than 5' / 'are even')."""
        be = "are" if plural else "is"
        k = c[0]
        if k in ("lt", "le", "gt", "ge", "eq", "ne"):
            t = self.num(c[1])
            return {
                "lt": lambda: self.pick(f"{be} less than {t}", f"{be} smaller than {t}", f"{be} below {t}"),
                "le": lambda: self.pick(
                    f"{be} at most {t}", f"{be} less than or equal to {t}", f"{be} not greater than {t}"
                ),
                "gt": lambda: self.pick(f"{be} greater than {t}", f"{be} larger than {t}", f"{be} above {t}"),
                "ge": lambda: self.pick(
                    f"{be} at least {t}", f"{be} greater than or equal to {t}", f"{be} not less than {t}"
                ),
                "eq": lambda: self.pick(f"{be} equal to {t}", f"{be} exactly {t}"),
                "ne": lambda: self.pick(f"{be} not equal to {t}", f"{be} different from {t}"),
            }[k]()
        if k == "even":
            return self.pick(f"{be} even", f"{be} divisible by 2")
        if k == "odd":
            return self.pick(f"{be} odd", f"{be} not divisible by 2")
        if k == "div":
            return self.pick(
                f"{be} divisible by {self.num(c[1])}",
                f"{be} a multiple of {self.num(c[1])}" if not plural else f"{be} multiples of {self.num(c[1])}",
            )
        if k == "vowel":
            return self.pick(
                f"{be} a vowel" if not plural else f"{be} vowels", f"{be} one of the letters {', '.join(VOWELS)}"
            )
        if k == "ceq":
            return self.pick(f"{be} the letter '{c[1]}'", f"{be} equal to '{c[1]}'")
        if k == "clt":
            come = "come" if plural else "comes"
            return self.pick(f"{come} before '{c[1]}' in the alphabet", f"{be} alphabetically smaller than '{c[1]}'")
        if k in ("vgt", "vlt", "veq"):
            return {
                "vgt": f"{be} greater than {other}",
                "vlt": f"{be} less than {other}",
                "veq": f"{be} equal to {other}",
            }[k]
        raise ValueError(c)

    def cond(self, c: list, subj: str, other: str = "") -> str:
        """Full clause: subject + predicate; symbols sometimes (``S < 5``) when the subject is a name."""
        ops = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥", "eq": "="}
        if c[0] in ops and len(subj) <= 6 and " " not in subj and self.rng.random() < 0.3 and not self.plain:
            return f"{subj} {ops[c[0]]} {c[1]}"
        text = f"{subj} {self.pred(c, other=other)}"
        if self.plain and subj.isidentifier():  # the program's condition; the other value by its name there
            return cond_code([c[0], other] if c[0] in ("vgt", "vlt", "veq") else c, subj)
        return text

    # ------------------------------------------------------------------ chains
    def chain(
        self,
        conds: list[list],
        acts: list,
        subj: str,
        act_text: Any,
        other: str = "",
        allow_ranges: bool = True,
        lead: str = "",
    ) -> str:
        """An if/elif/else chain told in order. ``act_text(act)`` words one arm's action."""
        has_else = len(acts) > len(conds) and acts[-1] is not None
        arms = [(self.cond(c, subj, other), act_text(a)) for c, a in zip(conds, acts)]
        else_text = act_text(acts[-1]) if has_else else None
        cuts = _ascending_cuts(conds)
        style = self.rng.random()
        if self.plain:
            style = 0.3  # the "If ..., Otherwise, ..." sentences
        if allow_ranges and cuts and has_else and style < 0.2:
            parts = []
            lo = None
            for cut, (_, a) in zip(cuts + [None], arms + [(None, else_text)]):
                if lo is None:
                    rng_text = self.pick(f"{subj} < {cut}", f"{subj} is less than {cut}")
                elif cut is None:
                    rng_text = self.pick(f"{subj} ≥ {lo}", f"{subj} is at least {lo}")
                elif cut - 1 == lo:
                    rng_text = f"{subj} = {lo}"
                else:
                    rng_text = self.pick(f"{lo} ≤ {subj} < {cut}", f"{subj} is from {lo} to {cut - 1}")
                parts.append(f"if {rng_text}, {a}")
                lo = cut
            return _cap("; ".join(parts)) + "."
        if style < 0.55:
            text = f"If {arms[0][0]}, {arms[0][1]}."
            for cnd, a in arms[1:]:
                text += " " + self.pick(
                    f"Otherwise, if {cnd}, {a}.", f"Else, if {cnd}, {a}.", f"If not, but {cnd}, {a}."
                )
            if else_text:
                text += " " + self.pick(f"Otherwise, {else_text}.", f"In all other cases, {else_text}.")
            return text
        lines = ([lead] if lead else []) + [f"- if {arms[0][0]}, {arms[0][1]};"]
        for cnd, a in arms[1:]:
            lines.append(f"- {self.pick('otherwise', 'else')}, if {cnd}, {a};")
        if else_text:
            lines.append(f"- {self.pick('otherwise', 'in every other case')}, {else_text}.")
        else:
            lines[-1] = lines[-1][:-1] + "."
        return "\n".join(lines)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _ascending_cuts(conds: list[list]) -> list[int] | None:
    """Cut points c_i (arm i is ``x < c_i``) when the chain is ascending thresholds only."""
    cuts = []
    for c in conds:
        if c[0] == "lt":
            cuts.append(c[1])
        elif c[0] == "le":
            cuts.append(c[1] + 1)
        else:
            return None
    return cuts if all(a < b for a, b in zip(cuts, cuts[1:])) else None


# ----------------------------------------------------------------------------- the statement
def _elements(comp: dict[str, Any], names: dict[str, str], w: Writer) -> dict[str, str]:
    """How the statement refers to the input and its elements."""
    k = comp["src"]["kind"]
    if k == "list":
        plural, sing = w.rng.choice(LIST_NOUNS)
        return {"plural": plural, "sing": sing, "subj": f"the {sing}"}
    if k == "str":
        words = w.rng.choice((("letters", "letter"), ("characters", "character")))
        plural, sing = ("letters", "letter") if w.plain else words
        return {"plural": plural, "sing": sing, "subj": f"the {sing}"}
    if k == "grid":
        return {
            "plural": "rows",
            "sing": "row",
            "subj": w.pick("the number of '#' cells in the row", "the count of '#' cells in the row"),
        }
    return {}


def _value_phrase(
    red: dict[str, Any], comp: dict[str, Any], names: dict[str, str], el: dict[str, str], w: Writer
) -> str:
    """Noun phrase for what a builtin or pair reducer computes."""
    if red["kind"] == "combine":
        a, b = names["a"], names["b"]
        return {
            "+": w.pick(f"the sum of {a} and {b}", f"{a} + {b}"),
            "-": w.pick(f"{a} minus {b}", f"the difference {a} - {b}"),
            "*": w.pick(f"the product of {a} and {b}", f"{a} multiplied by {b}"),
            "max": w.pick(f"the larger of {a} and {b}", f"the maximum of {a} and {b}"),
            "min": w.pick(f"the smaller of {a} and {b}", f"the minimum of {a} and {b}"),
            "absdiff": w.pick(f"the absolute difference between {a} and {b}", f"|{a} - {b}|"),
        }[red["op"]]
    f = red["fn"]
    p, sg = el.get("plural", ""), el.get("sing", "")
    s = names.get("s", "s")
    return {
        "sum": lambda: w.pick(f"the sum of all the {p}", f"the total of the {p}"),
        "max": lambda: w.pick(f"the largest {sg}", f"the maximum of the {p}"),
        "min": lambda: w.pick(f"the smallest {sg}", f"the minimum of the {p}"),
        "range": lambda: w.pick(
            f"the difference between the largest and the smallest {sg}", f"the maximum {sg} minus the minimum {sg}"
        ),
        "distinct": lambda: w.pick(f"the number of distinct {p}", f"how many different values occur among the {p}"),
        "countk": lambda: w.pick(
            f"the number of {p} equal to {w.num(red['k'])}", f"how many times {red['k']} occurs among the {p}"
        ),
        "first": lambda: w.pick(f"the first {sg}", f"the {sg} that comes first"),
        "last": lambda: w.pick(f"the last {sg}", f"the final {sg} of the list"),
        "len": lambda: w.pick(f"the length of {s}", f"the number of {p} in {s}"),
        "countc": lambda: w.pick(
            f"the number of times the letter '{red['c']}' occurs in {s}",
            f"how many {p} of {s} are equal to '{red['c']}'",
        ),
        "sdistinct": lambda: w.pick(f"the number of distinct {p} in {s}", f"how many different {p} {s} contains"),
        "reverse": lambda: w.pick(f"the string {s} written backwards", f"{s} reversed"),
        "upper": lambda: w.pick(f"{s} with every letter turned into a capital letter", f"{s} in upper case"),
        "cells": lambda: w.pick("the total number of '#' cells in the grid", "how many cells of the grid contain '#'"),
        "maxrow": lambda: w.pick(
            "the largest number of '#' cells in a single row",
            "the maximum, over all rows, of the number of '#' cells in the row",
        ),
        "rows": lambda: w.pick("the number of rows of the grid", "the height of the grid"),
    }[f]()


def _loop_text(red: dict[str, Any], el: dict[str, str], name: str, w: Writer, second: bool = False) -> str:
    """Sentences for an element loop, ending with the value ``name`` (or the group counts) defined."""
    p, sg = el["plural"], el["sing"]
    subj = el["subj"]
    intro = ""
    if red.get("map"):
        newval = w.pick("the new value", "the resulting value", "the replaced value")
        if second:
            intro = w.pick(
                f"Separately, take every original {sg} and replace it by {w.expr(red['map'], 'the ' + sg)}. ",
                f"Now start again from the original {p}, changing each {sg} into {w.expr(red['map'], 'the ' + sg)}. ",
            )
        else:
            intro = w.pick(
                f"First replace every {sg} by {w.expr(red['map'], 'the ' + sg)}. ",
                f"Begin by changing each {sg} into {w.expr(red['map'], 'the ' + sg)}. ",
            )
        subj, p_ref = newval, "new values"
    else:
        p_ref = p
    conds, acts = red["chain"]["conds"], red["chain"]["acts"]
    acc = red["acc"]
    if acc == "count":
        c = conds[0]
        if el["plural"] == "rows":
            what = f"rows in which the number of '#' cells {w.pred(c)}"
        else:
            what = f"{p_ref} that {w.pred(c, plural=True)}"
        return intro + w.pick(f"Let {name} be the number of {what}.", f"Count the {what}; call this number {name}.")
    if acc == "counts":
        k = len(conds) + 1
        groups = [f"group 1 gets every {sg} for which {w.cond(conds[0], subj)}"]
        for i, c in enumerate(conds[1:], start=2):
            groups.append(f"group {i} gets those of the remaining ones for which {w.cond(c, subj)}")
        groups.append(f"group {k} gets all the others")
        return intro + f"Split the {p} into {w.num(k)} groups: " + "; ".join(groups) + "."
    # sums: filter (else is None, one arm adding) or piecewise
    acc_name, tail = name, ""
    if w.rng.random() < 0.5 and not w.plain:
        acc_name = w.pick("the score", "the total", "the running total")
        tail = f" Let {name} be the final value of {acc_name}."

    def act(a: list) -> str:
        if a is None:
            return w.pick("do nothing", "leave it unchanged")
        kind = a[0]
        if kind == "add":
            return w.pick(f"add {w.expr(a[1], subj)} to {acc_name}", f"increase {acc_name} by {w.expr(a[1], subj)}")
        if kind == "sub":
            return w.pick(
                f"subtract {w.expr(a[1], subj)} from {acc_name}", f"decrease {acc_name} by {w.expr(a[1], subj)}"
            )
        if kind == "addc":
            return w.pick(f"add {w.num(a[1])} to {acc_name}", f"increase {acc_name} by {w.num(a[1])}")
        if kind == "subc":
            return w.pick(f"subtract {w.num(a[1])} from {acc_name}", f"decrease {acc_name} by {w.num(a[1])}")
        if kind == "if":
            return w.pick(
                f"{act(a[2])} if {w.cond(a[1], subj)}, and {act(a[3])} otherwise",
                f"check whether {w.cond(a[1], subj)}: if so, {act(a[2])}, else {act(a[3])}",
            )
        raise ValueError(a)

    start = w.pick(f"{acc_name} starts at 0", f"initially {acc_name} is 0")
    order = w.pick(f"Go through the {p} in order", f"Process the {p} one by one", f"For each {sg}")
    body = w.chain(conds, acts, subj, act, allow_ranges=False)
    sep = "\n" if body.startswith("-") else " "
    return (
        intro + _cap(start) + ". " + order + ":" + sep + body + ("\n" + tail.strip() if sep == "\n" and tail else tail)
    )


def render_statement(
    rng: random.Random,
    comp: dict[str, Any],
    fmt: str,
    names: dict[str, str],
    fn_name: str | None,
    example: tuple[Any, Any] | None,
    words_p: float = 0.15,
    plain: bool = False,
) -> str:
    """The problem statement (APPS ``question.txt``); ``plain``: one wording (see the module docstring)."""
    w = Writer(rng, fmt, words_p, plain)
    src = comp["src"]
    k = src["kind"]
    el = _elements(comp, names, w)
    verb = w.out_verb()
    body: list[str] = []
    value_name = rng.choice(VALUE_NAMES)
    if k == "int":
        value_name = names["n"]
    if plain:  # the program's own name for the value
        value_name = value_var(comp, names)
    reds = comp["reducers"]
    other_name = ""
    # --- what the program computes
    if reds:
        red = reds[0]
        if red["kind"] == "loop":
            conds, acts = red["chain"]["conds"], red["chain"]["acts"]
            if red["acc"] == "sum" and len(conds) == 1 and acts == [["add", ["id"]], None] and not red.get("map"):
                what = (
                    f"rows in which the number of '#' cells {w.pred(conds[0])}"
                    if k == "grid"
                    else f"{el['plural']} that {w.pred(conds[0], plural=True)}"
                )
                body.append(
                    w.pick(f"Let {value_name} be the sum of the {what}.", f"Find {value_name}, the sum of all {what}.")
                )
            else:
                body.append(_loop_text(red, el, value_name, w))
        else:
            body.append(
                w.pick(
                    f"Let {value_name} be {_value_phrase(red, comp, names, el, w)}.",
                    f"Compute {value_name}, {_value_phrase(red, comp, names, el, w)}.",
                )
            )
        if len(reds) > 1:
            other_name = next(n for n in ("C", "M", "P", "D") if n != value_name)
            if plain:
                other_name = reducer_vars(reds[1])[0]
            red2 = reds[1]
            if red2["kind"] == "loop":
                body.append(_loop_text(red2, el, other_name, w, second=True))
            else:
                body.append(f"Let {other_name} be {_value_phrase(red2, comp, names, el, w)}.")
    for e in comp["post"]:
        text = _cap((w.pick("then ", "after that, ", "next, ") if body else "") + w.update(e, value_name)) + "."
        if plain:  # the program's ``v = <expression>``
            text, value_name = f"Let v be {expr_code(e, value_name)}.", "v"
        body.append(text)
    out = comp["out"]
    if out["kind"] == "plain":
        body.append(_cap(w.pick(f"{verb} {value_name}.", f"{verb} the value of {value_name}.")))
    elif out["kind"] == "multi":
        n_groups = len(reducer_vars(reds[0]))
        body.append(
            _cap(
                w.pick(
                    f"{verb} the sizes of the groups, from group 1 to group {n_groups}",
                    f"{verb} how many {el['plural']} ended up in each group, in group order",
                )
                + (", separated by spaces." if fmt == "stdin" else " as a list.")
            )
        )
    else:

        def res(r: list) -> str:
            if r[0] == "label":
                return f'{verb} "{r[1]}"'
            if r[0] == "expr":
                return f"{verb} {w.expr(r[1], value_name)}"
            return w.pick(
                f"{res(r[2])} if {w.cond(r[1], value_name)}, and {res(r[3])} otherwise",
                f"check whether {w.cond(r[1], value_name)}: if so, {res(r[2])}, else {res(r[3])}",
            )

        lead = w.pick("Finally:", f"Then, depending on {value_name}:", "The answer is determined as follows:")
        body.append(w.chain(out["chain"]["conds"], out["chain"]["acts"], value_name, res, other=other_name, lead=lead))
    # --- the frame: story, input/signature, output, example
    return _frame(w, comp, fmt, names, fn_name, el, body, example)


def _frame(
    w: Writer,
    comp: dict[str, Any],
    fmt: str,
    names: dict[str, str],
    fn_name: str | None,
    el: dict[str, str],
    body: list[str],
    example: tuple[Any, Any] | None,
) -> str:
    src, k = comp["src"], comp["src"]["kind"]
    rng = w.rng
    lo, hi = src.get("lo"), src.get("hi")
    joined = _join(body)
    if fmt == "stdin":
        story = {
            "int": w.pick(
                "You are given an integer n.",
                "A single integer n is given.",
                f"{rng.choice(NAMES)} thinks of an integer n.",
            ),
            "pair": w.pick(
                "You are given two integers a and b.",
                "Two integers a and b are given.",
                f"{rng.choice(NAMES)} has two integers a and b.",
            ),
            "list": w.pick(
                f"You are given n {el.get('plural')} a_1, a_2, ..., a_n.",
                f"{rng.choice(NAMES)} wrote down a sequence of n {el.get('plural')}.",
                f"There are n {el.get('plural')} in a row.",
            ),
            "str": w.pick(
                "You are given a string s of lowercase English letters.",
                f"{rng.choice(NAMES)} has a word s made of lowercase Latin letters.",
            ),
            "grid": w.pick(
                "You are given a grid with r rows and c columns; every cell is either '.' or '#'.",
                "A rectangular map of r rows and c columns is drawn with '.' (empty) and '#' (wall).",
            ),
        }[k]
        multi = comp["multi"]
        if multi:
            story = (
                w.pick("Solve the following task for several test cases. ", "There are several test cases. ") + story
            )
        case_lines = {
            "int": [
                f"The only line {'of each test case ' if multi else ''}contains an integer n "
                f"({_rng_txt(w, lo, 'n', hi)})."
            ],
            "pair": [
                f"The only line {'of each test case ' if multi else ''}contains two integers a and b "
                f"({_rng_txt(w, lo, 'a, b', hi)})."
            ],
            "list": [
                f"The first line {'of each test case ' if multi else ''}contains an integer n "
                f"({_rng_txt(w, 1, 'n', src.get('nmax'))}).",
                f"The second line contains n integers a_1, a_2, ..., a_n ({_rng_txt(w, lo, 'a_i', hi)}).",
            ],
            "str": [
                f"The only line {'of each test case ' if multi else ''}contains the string s "
                f"({_rng_txt(w, 1, '|s|', src.get('nmax'))}) of lowercase English letters."
            ],
            "grid": [
                f"The first line {'of each test case ' if multi else ''}contains two integers r and c "
                f"({_rng_txt(w, 1, 'r', src.get('rmax'))}, {_rng_txt(w, 1, 'c', src.get('cmax'))}).",
                "Each of the next r lines contains c characters, each '.' or '#'.",
            ],
        }[k]
        if multi:
            case_lines = [
                f"The first line contains an integer t ({_rng_txt(w, 1, 't', multi)}) — the number of test cases."
            ] + case_lines
        out_line = w.pick("Print the answer.", "Print the answer on a single line.", "Output the answer.")
        if comp["out"]["kind"] == "multi":
            out_line = "Print the group sizes on one line, separated by spaces."
        if multi:
            out_line = w.pick(
                "For each test case, print the answer on a separate line.",
                "Print t lines, the answer for each test case.",
            )
        text = (
            f"{story} {joined}\n\n-----Input-----\n\n" + "\n".join(case_lines) + f"\n\n-----Output-----\n\n{out_line}\n"
        )
        if example is not None:
            head = w.pick("-----Example-----", "-----Examples-----")
            text += f"\n{head}\nInput\n{example[0]}\nOutput\n{example[1]}"
        return text
    params = [names["a"], names["b"]] if k == "pair" else [next(iter(names.values()))]
    p0, p1 = params[0], params[-1]
    desc = {
        "int": f"an integer {p0}",
        "pair": f"two integers {p0} and {p1}",
        "list": f"a list {p0} of {el.get('plural')}"
        if el.get("plural") in ("integers", "numbers")
        else f"a list {p0} of integer {el.get('plural')}",
        "str": f"a string {p0} of lowercase letters",
        "grid": f"a grid {p0} given as a list of equal-length strings of '.' and '#'",
    }[k]
    constraints = {
        "int": [_rng_txt(w, lo, p0, hi, ascii_=fmt == "class")],
        "pair": [_rng_txt(w, lo, f"{p0}, {p1}", hi, ascii_=fmt == "class")],
        "list": [
            _rng_txt(w, 1, f"{p0}.length" if fmt == "class" else f"len({p0})", src.get("nmax"), ascii_=fmt == "class"),
            _rng_txt(w, lo, f"{p0}[i]", hi, ascii_=fmt == "class"),
        ],
        "str": [
            _rng_txt(w, 1, f"{p0}.length" if fmt == "class" else f"len({p0})", src.get("nmax"), ascii_=fmt == "class")
        ],
        "grid": [
            _rng_txt(w, 1, "number of rows", src.get("rmax"), ascii_=fmt == "class"),
            _rng_txt(w, 1, "row length", src.get("cmax"), ascii_=fmt == "class"),
        ],
    }[k]
    if fmt == "call":
        head = w.pick(
            f"Write a function `{fn_name}` that takes {desc}.",
            f"Implement `{fn_name}({', '.join(params)})`, which receives {desc}.",
            f"Complete the function `{fn_name}`. It is given {desc}.",
        )
        text = f"{head} {joined}\n\nConstraints:\n" + "\n".join(f"* {c}" for c in constraints) + "\n"
        if example is not None:
            args = ", ".join(_pyjson(a) for a in example[0])
            text += f"\nExample:\n\n    {fn_name}({args}) == {_pyjson(example[1])}\n"
        return text
    head = w.pick(f"Given {desc}, solve the following.", f"You are given {desc}.")
    text = f"{head} {joined}\n"
    if example is not None:
        args = ", ".join(f"{p} = {_compact(a)}" for p, a in zip(params, example[0]))
        text += f"\nExample 1:\nInput: {args}\nOutput: {_compact(example[1])}\n"
    text += "\nConstraints:\n\n" + "\n".join(constraints) + "\n"
    return text


def _join(body: list[str]) -> str:
    """Sentences in one paragraph; bullet lists keep their own lines."""
    out = ""
    for part in body:
        out = part if not out else out + ("\n" if "\n" in out.split(". ")[-1] or part.startswith("-") else " ") + part
    return out


def _rng_txt(w: Writer, lo: Any, name: str, hi: Any, ascii_: bool = False) -> str:
    if ascii_:
        return f"{lo} <= {name} <= {hi}"
    return w.pick(f"{lo} ≤ {name} ≤ {hi}", f"{lo} <= {name} <= {hi}")


def _pyjson(v: Any) -> str:
    """Python literal for the examples (strings in double quotes, like JSON)."""
    return json.dumps(v)


def _compact(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))
