"""The offline benchmark: APPS-format problems generated from a seed (the ``tiny`` profile's data).

Why: the hub is unreachable here and a model small enough to train on 2 CPU cores cannot solve
real APPS problems. These problems keep APPS's shape -- statement, solutions, stdin or
call-based tests, three difficulties -- but are small compositions whose tiers separate by
solution length and number of conditionals (introductory 0-2, interview 3-5, competition 6-12
``if``/``elif``), with 10-15 tests by default (``n_tests``) that drive every ``if`` both ways (so CCCS has start points
and FGO has executed lines to show), held-out test problems whose compositions never occur in
train, and a known share of injected defects recorded in ``truth.json``.

    generate_benchmark("artifacts/bench", **SIZES["tiny"])   # APPS folders + truth.json
    problems = generate_problems(n_train=40, n_test=10, seed=0)              # the same, in memory

Output is byte-identical for a seed: every random draw comes from ``random.Random`` seeded with
a string (hashed with SHA-512 by ``random``, not by ``hash()``), no set is iterated unsorted,
JSON is written with sorted keys, and there are no floats.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import mean, median
from typing import Any

from stepcoder_lib.data.synthetic.compose import (
    IF_BANDS,
    TIERS,
    Reject,
    choose_tests,
    count_ifs,
    render_program,
    sample_composition,
    signature_line,
    source_names,
)
from stepcoder_lib.data.synthetic.defects import DEFECT_KINDS, inject, wrong_solution
from stepcoder_lib.data.synthetic.text import render_statement
from stepcoder_lib.settings.progress import Progress

GENERATOR = "stepcoder-bench"
VERSION = 1
TIER_SHARES: dict[str, float] = {"introductory": 0.4, "interview": 0.4, "competition": 0.2}
#: stdin programs / module-level functions (Codewars style) / ``class Solution`` (LeetCode style).
FORMAT_SHARES: dict[str, dict[str, float]] = {
    "introductory": {"stdin": 0.5, "call": 0.35, "class": 0.15},
    "interview": {"stdin": 0.6, "call": 0.3, "class": 0.1},
    "competition": {"stdin": 0.75, "call": 0.2, "class": 0.05},
}
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"n_train": 36, "n_test": 12, "seed": 0, "defect_rate": 0.17},  # 6 + 2 defects: every kind once
    "tiny": {"n_train": 3000, "n_test": 500, "seed": 0, "defect_rate": 0.1},
}
APPS_FIELDS = ("question", "solutions", "input_output", "starter_code", "metadata")
_VERBS = ("solve", "compute", "find", "get", "count", "classify", "evaluate", "score", "process", "analyze")
_NOUNS = {
    "int": ("number", "value", "n"),
    "pair": ("pair", "numbers", "two"),
    "list": ("list", "array", "sequence", "numbers"),
    "str": ("word", "string", "text"),
    "grid": ("grid", "map", "board"),
}


def _fn_name(rng: random.Random, kind: str, fmt: str) -> str:
    verb, noun = rng.choice(_VERBS), rng.choice(_NOUNS[kind])
    return f"{verb}_{noun}" if fmt == "call" else verb + noun[:1].upper() + noun[1:]


def _exact_counts(shares: dict[str, float], n: int) -> list[str]:
    """``n`` items split by ``shares`` with largest-remainder rounding (exact, deterministic)."""
    keys = list(shares)
    raw = [shares[k] * n / sum(shares.values()) for k in keys]
    counts = [int(x) for x in raw]
    for i in sorted(range(len(keys)), key=lambda i: (-(raw[i] - counts[i]), i))[: n - sum(counts)]:
        counts[i] += 1
    return [k for k, c in zip(keys, counts) for _ in range(c)]


def logic_signature(comp: dict[str, Any]) -> str:
    """Canonical form of a composition's logic: its program in one I/O form with one set of names.

    Wording, names, I/O format and the promised input ranges are left out, so two problems with
    the same signature are copies for a model even if their statements differ."""
    return render_program(comp, "stdin", source_names(comp["src"]["kind"], "stdin", random.Random(0)), None)


def make_problem(
    seed: int,
    split: str,
    index: int,
    tier: str,
    taken: set[str],
    *,
    n_tests: tuple[int, int] = (10, 15),
    words_p: float = 0.15,
    plain: bool = False,
    if_bands: dict[str, tuple[int, int]] | None = None,
    max_attempts: int = 400,
) -> dict[str, Any]:
    """One clean problem of ``tier`` whose logic signature is not in ``taken``."""
    for attempt in range(max_attempts):
        rng = random.Random(f"{GENERATOR}/{seed}/{split}/{index}/{attempt}")
        shares = FORMAT_SHARES[tier]
        fmt = rng.choices(list(shares), [shares[k] for k in shares])[0]
        try:
            comp = sample_composition(rng, tier, fmt, if_bands)
        except Reject:
            continue
        sig = logic_signature(comp)
        if sig in taken:
            continue
        kind = comp["src"]["kind"]
        names = source_names(kind, fmt, rng)
        fn_name = _fn_name(rng, kind, fmt) if fmt != "stdin" else None
        program = render_program(comp, fmt, names, fn_name)
        n_if = count_ifs(program)
        lo, hi = (if_bands or IF_BANDS)[tier]
        if not lo <= n_if <= hi:
            continue
        try:
            cases, inputs, outputs = choose_tests(rng, comp, program, fmt, fn_name, rng.randint(*n_tests))
        except Reject:
            continue
        ex = min(range(len(inputs)), key=lambda i: (len(json.dumps(inputs[i])), i))
        question = render_statement(rng, comp, fmt, names, fn_name, (inputs[ex], outputs[ex]), words_p, plain)
        if fmt == "stdin":
            io: dict[str, Any] = {"inputs": inputs, "outputs": outputs}
            starter = ""
        else:
            assert fn_name is not None  # call and class formats always name their function
            io = {"fn_name": fn_name, "inputs": inputs, "outputs": [[o] for o in outputs]}
            sig_line = signature_line(comp, fmt, fn_name, names)
            starter = sig_line + "\n" if fmt == "call" else "class Solution:\n" + sig_line + "\n"
            assert program.startswith(starter)
        taken.add(sig)
        return {
            "id": "",
            "split": split,
            "difficulty": tier,
            "format": fmt,
            "fn_name": fn_name,
            "question": question,
            "solutions": [program],
            "input_output": io,
            "starter_code": starter,
            "metadata": {},
            "reference_solution": program,
            "clean_input_output": io,
            "tests": {"inputs": inputs, "outputs": outputs},
            "cases": cases,
            "names": names,
            "composition": comp,
            "signature": sig,
            "defect": "clean",
            "defect_detail": {},
            "stats": {
                "conditionals": n_if,
                "lines": sum(1 for ln in program.splitlines() if ln.strip()),
                "tests": len(inputs),
                "words": len(question.split()),
            },
        }
    raise RuntimeError(f"could not generate {split} problem {index} ({tier}) in {max_attempts} attempts")


def _assign_defects(
    rng: random.Random,
    problems: list[dict[str, Any]],
    defect_rate: float,
    kinds: Sequence[str],
    multi_solution_rate: float,
) -> None:
    n_def = round(defect_rate * len(problems))
    chosen = sorted(rng.sample(range(len(problems)), n_def))
    labels = _exact_counts(dict.fromkeys(kinds, 1.0), n_def)
    rng.shuffle(labels)
    for i, kind in zip(chosen, labels):
        inject(random.Random(f"{GENERATOR}/defect/{problems[i]['id']}"), problems[i], kind)
    clean = [i for i in range(len(problems)) if problems[i]["defect"] == "clean"]
    for i in sorted(rng.sample(clean, round(multi_solution_rate * len(clean)))):
        p = problems[i]
        prng = random.Random(f"{GENERATOR}/wrong-first/{p['id']}")
        wrongs = []
        for _ in range(2 if prng.random() < 0.25 else 1):
            w = wrong_solution(
                prng, p["reference_solution"], p["format"], p["fn_name"], p["tests"]["inputs"], p["tests"]["outputs"]
            )
            if w is not None and w not in wrongs:
                wrongs.append(w)
        if wrongs:
            p["solutions"] = wrongs + [p["reference_solution"]]
            p["defect_detail"] = {"first_passing_solution": len(wrongs)}


def generate_problems(
    n_train: int = 3000,
    n_test: int = 500,
    seed: int = 0,
    defect_rate: float = 0.1,
    *,
    defect_kinds: Sequence[str] = DEFECT_KINDS,
    defect_splits: Sequence[str] = ("train", "test"),
    tier_shares: dict[str, float] | None = None,
    multi_solution_rate: float = 0.15,
    n_tests: tuple[int, int] = (10, 15),
    words_p: float = 0.15,
    plain: bool = False,
    if_bands: Any = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """All problems in memory: APPS fields plus the truth (``defect``, ``reference_solution``, ...).

    Ids are 5-digit strings, unique across splits (train first). Test problems are drawn after
    train and must have a logic signature no train problem has. ``plain``: one wording per block
    (see ``text.py``); ``if_bands``: ``{tier: (lo, hi)}`` (or its pairs), each tier's number of
    ``if``/``elif`` statements, over ``IF_BANDS`` (a small model's tiers can be scaled down).
    """
    for k in defect_kinds:
        if k not in DEFECT_KINDS:
            raise ValueError(f"unknown defect kind {k!r}; known: {DEFECT_KINDS}")
    if not 0 <= defect_rate <= 1:
        raise ValueError("defect_rate must be within [0, 1]")
    shares = tier_shares or TIER_SHARES
    bands = {**IF_BANDS, **{tier: (int(lo), int(hi)) for tier, (lo, hi) in dict(if_bands or {}).items()}}
    for tier, (lo, hi) in bands.items():
        if tier not in IF_BANDS or not 0 <= lo <= hi <= 12:
            raise ValueError(f"if_bands[{tier!r}] = ({lo}, {hi}): tiers are {TIERS}, bands within 0..12")
    taken: set[str] = set()
    problems: list[dict[str, Any]] = []
    bar = Progress(total=n_train + n_test, desc="generating problems", unit="problem", enabled=progress)
    for split, n, offset in (("train", n_train, 0), ("test", n_test, n_train)):
        tiers = _exact_counts(shares, n)
        random.Random(f"{GENERATOR}/{seed}/{split}/tiers").shuffle(tiers)
        split_problems = []
        for i, tier in enumerate(tiers):
            p = make_problem(seed, split, i, tier, taken, n_tests=n_tests, words_p=words_p, plain=plain, if_bands=bands)
            p["id"] = f"{offset + i:05d}"
            p["metadata"] = {
                "difficulty": tier,
                "url": f"{GENERATOR}://seed-{seed}/{split}/{p['id']}",
                "source": GENERATOR,
            }
            split_problems.append(p)
            bar.update(1)
        if split in defect_splits and split_problems:
            _assign_defects(
                random.Random(f"{GENERATOR}/{seed}/{split}/defects"),
                split_problems,
                defect_rate,
                defect_kinds,
                multi_solution_rate,
            )
        elif split_problems:
            _assign_defects(
                random.Random(f"{GENERATOR}/{seed}/{split}/defects"),
                split_problems,
                0.0,
                defect_kinds,
                multi_solution_rate,
            )
        problems += split_problems
    bar.close()
    return problems


# ----------------------------------------------------------------------------- files
def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def write_problem(folder: Path, p: dict[str, Any]) -> None:
    """APPS files of one problem; an absent field (None) means the file is not written."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "question.txt").write_bytes(p["question"].encode("utf-8"))
    (folder / "metadata.json").write_bytes(_dump(p["metadata"]).encode("utf-8"))
    if p["solutions"] is not None:
        (folder / "solutions.json").write_bytes(_dump(p["solutions"]).encode("utf-8"))
    if p["input_output"] is not None:
        (folder / "input_output.json").write_bytes(_dump(p["input_output"]).encode("utf-8"))
    if p["starter_code"]:
        (folder / "starter_code.py").write_bytes(p["starter_code"].encode("utf-8"))


def truth_record(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "split": p["split"],
        "difficulty": p["difficulty"],
        "format": p["format"],
        "defect": p["defect"],
        "detail": p["defect_detail"],
        "conditionals": p["stats"]["conditionals"],
    }


def build_truth(problems: Sequence[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """``truth.json``: per problem id its defect kind ("clean" or one of DEFECT_KINDS) and details."""
    counts: dict[str, dict[str, int]] = {}
    for p in problems:
        counts.setdefault(p["split"], dict.fromkeys(("clean",) + DEFECT_KINDS, 0))[p["defect"]] += 1
    return {
        "generator": GENERATOR,
        "version": VERSION,
        "config": config,
        "counts": counts,
        "problems": {p["id"]: truth_record(p) for p in problems},
    }


def generate_benchmark(
    out_dir: str | Path,
    n_train: int = 3000,
    n_test: int = 500,
    seed: int = 0,
    defect_rate: float = 0.1,
    *,
    overwrite: bool = True,
    progress: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Write ``out_dir/{train,test}/<id>/`` (APPS layout) and ``out_dir/truth.json``; return the truth.

    ``overwrite`` replaces earlier ``train/``, ``test/`` and ``truth.json`` there (nothing else).
    """
    out = Path(out_dir)
    for name in ("train", "test"):
        if (out / name).exists():
            if not overwrite:
                raise FileExistsError(f"{out / name} exists (pass overwrite=True to replace it)")
            shutil.rmtree(out / name)
    problems = generate_problems(n_train, n_test, seed, defect_rate, progress=progress, **options)
    for p in problems:
        write_problem(out / p["split"] / p["id"], p)
    config = {
        "n_train": n_train,
        "n_test": n_test,
        "seed": seed,
        "defect_rate": defect_rate,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in sorted(options.items())},
    }
    truth = build_truth(problems, config)
    (out / "truth.json").write_bytes(
        (json.dumps(truth, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    )
    return truth


def load_truth(out_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / "truth.json").read_text(encoding="utf-8"))


def truth_by_problem_id(truth: dict[str, Any], source: str = "bench") -> dict[str, str]:
    """``{"<source>/<split>/<id>": defect}``, keyed like the APPS folder loader names problems."""
    return {f"{source}/{r['split']}/{pid}": r["defect"] for pid, r in sorted(truth["problems"].items())}


# ----------------------------------------------------------------------------- statistics
def benchmark_stats(problems: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Per tier: distribution of conditionals, solution lines, tests and statement words; formats; defects."""
    by_tier: dict[str, list[dict[str, Any]]] = {t: [] for t in TIERS}
    for p in problems:
        by_tier[p["difficulty"]].append(p)
    out: dict[str, Any] = {}
    for tier, ps in by_tier.items():
        if not ps:
            continue
        row: dict[str, Any] = {"n": len(ps)}
        for key in ("conditionals", "lines", "tests", "words"):
            vals = sorted(p["stats"][key] for p in ps)
            row[key] = {"min": vals[0], "median": median(vals), "mean": round(mean(vals), 2), "max": vals[-1]}
        row["conditionals_hist"] = dict(sorted(Counter(p["stats"]["conditionals"] for p in ps).items()))
        row["formats"] = dict(sorted(Counter(p["format"] for p in ps).items()))
        row["defects"] = dict(sorted(Counter(p["defect"] for p in ps).items()))
        out[tier] = row
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate the offline APPS-format benchmark.")
    ap.add_argument("out_dir")
    ap.add_argument("--profile", choices=sorted(SIZES), default="tiny")
    ap.add_argument("--n-train", type=int)
    ap.add_argument("--n-test", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--defect-rate", type=float)
    args = ap.parse_args(argv)
    cfg = dict(SIZES[args.profile])
    for key in ("n_train", "n_test", "seed", "defect_rate"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    t0 = time.time()
    truth = generate_benchmark(args.out_dir, **cfg)
    print(
        json.dumps(
            {"out_dir": str(args.out_dir), "seconds": round(time.time() - t0, 1), "counts": truth["counts"]}, indent=1
        ),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
