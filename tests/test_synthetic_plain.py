"""The generator's plain wording (the tiny profile's data): same problems, one wording per block."""

from __future__ import annotations

import random
import re

from stepcoder_lib.synthetic import generate_problems
from stepcoder_lib.synthetic.compose import TIERS, sample_composition, source_names
from stepcoder_lib.synthetic.text import LIST_NOUNS, NAMES, VALUE_NAMES, render_statement


def test_plain_wording_keeps_code_tests_and_names() -> None:
    varied = generate_problems(n_train=24, n_test=6, seed=3, defect_rate=0.0)
    plain = generate_problems(n_train=24, n_test=6, seed=3, defect_rate=0.0, plain=True)
    for a, b in zip(varied, plain, strict=True):
        assert (a["reference_solution"], a["tests"], a["names"], a["difficulty"]) == \
               (b["reference_solution"], b["tests"], b["names"], b["difficulty"])
    assert sum(a["question"] != b["question"] for a, b in zip(varied, plain, strict=True)) > len(varied) // 2


def test_plain_wording_has_far_fewer_variants() -> None:
    for tier in TIERS:
        rng = random.Random(f"wording/{tier}")
        comp = None
        while comp is None:
            try:
                comp = sample_composition(rng, tier, "stdin")
            except Exception:
                comp = None
        names = source_names(comp["src"]["kind"], "stdin", rng)
        def variants(plain: bool) -> set[str]:  # statements with the names and nouns blanked out
            texts = {render_statement(random.Random(i), comp, "stdin", names, None, None, plain=plain)
                     for i in range(30)}
            return {re.sub(rf"\b({'|'.join(NAMES + VALUE_NAMES + tuple(w for pair in LIST_NOUNS for w in pair))})\b",
                           "_", t) for t in texts}

        assert len(variants(plain=True)) == 1 and len(variants(plain=False)) >= 10, tier
