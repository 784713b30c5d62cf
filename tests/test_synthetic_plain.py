"""The generator's plain wording (the tiny profile's data): same problems, one wording per block."""

from __future__ import annotations

import random
import re

from data_helpers import first_stdin_composition

from stepcoder_lib.data.synthetic import generate_problems
from stepcoder_lib.data.synthetic.compose import TIERS
from stepcoder_lib.data.synthetic.text import LIST_NOUNS, NAMES, VALUE_NAMES, render_statement


def test_plain_wording_keeps_code_tests_and_names() -> None:
    varied = generate_problems(n_train=24, n_test=6, seed=3, defect_rate=0.0)
    plain = generate_problems(n_train=24, n_test=6, seed=3, defect_rate=0.0, plain=True)
    for a, b in zip(varied, plain, strict=True):
        assert (a["reference_solution"], a["tests"], a["names"], a["difficulty"]) == \
               (b["reference_solution"], b["tests"], b["names"], b["difficulty"])
    assert sum(a["question"] != b["question"] for a, b in zip(varied, plain, strict=True)) > len(varied) // 2


def test_plain_wording_has_far_fewer_variants() -> None:
    for tier in TIERS:
        comp, names = first_stdin_composition(tier)

        def variants(plain: bool, comp: dict = comp, names: dict = names) -> set[str]:  # names, nouns blanked
            texts = {render_statement(random.Random(i), comp, "stdin", names, None, None, plain=plain)
                     for i in range(30)}
            return {re.sub(rf"\b({'|'.join(NAMES + VALUE_NAMES + tuple(w for pair in LIST_NOUNS for w in pair))})\b",
                           "_", t) for t in texts}

        assert len(variants(plain=True)) == 1 and len(variants(plain=False)) >= 10, tier


def test_plain_wording_states_named_values_in_the_programs_own_text() -> None:
    from stepcoder_lib.data.synthetic.compose import cond_code, expr_code, reducer_vars, value_var

    checked = 0
    for r in generate_problems(n_train=60, n_test=0, seed=5, defect_rate=0.0, plain=True):
        comp, names, question, program = r["composition"], r["names"], r["question"], r["reference_solution"]
        value = value_var(comp, names)
        for e in comp["post"]:  # "Let v be total - 3." where the program has ``v = total - 3``
            assert f"Let v be {expr_code(e, value)}." in question and f"v = {expr_code(e, value)}" in program
            value = "v"
        if comp["out"]["kind"] != "chain":
            continue
        other = reducer_vars(comp["reducers"][1])[0] if len(comp["reducers"]) > 1 else ""
        for c in comp["out"]["chain"]["conds"]:
            text = cond_code([c[0], other] if c[0] in ("vgt", "vlt", "veq") else c, value)
            assert f"if {text}" in question.lower() and f"if {text}:" in program, (r["id"], text)
            checked += 1
    assert checked >= 40
