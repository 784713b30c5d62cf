"""Intervals, paired differences, claims and power: against simulations with a known truth and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stepcoder_lib.stats import (
    BootstrapSettings,
    PilotVariance,
    ProblemMatrix,
    bootstrap_cell,
    cell_intervals,
    claims_table,
    describe_claims,
    design_for_half_width,
    half_width,
    paired_difference,
    paired_differences,
    pilot_variance,
    problem_matrix,
    seed_effects,
    table_intervals,
    verdict,
    with_verdicts,
)

TIERS = tuple(["introductory"] * 30 + ["interview"] * 50 + ["competition"] * 20)


def _matrix(name: str, rates: np.ndarray, samples: int, rng: np.random.Generator) -> ProblemMatrix:
    """Simulated pass@1 (%) of ``samples`` Bernoulli draws per (seed, problem) at the true ``rates``."""
    values = 100 * rng.binomial(samples, rates) / samples
    return ProblemMatrix(name, "pass@1", values, tuple(f"p{i}" for i in range(rates.shape[1])), TIERS,
                         tuple(range(rates.shape[0])), samples)


def _simulate(rng: np.random.Generator, seeds: int, seed_spread: float, delta: float = 0.05, samples: int = 4):
    """Two rows on the same 100 problems; row a's true rate is row b's plus ``delta`` on every problem,
    each seed of each row adds its own offset, uniform in +-``seed_spread`` (mean 0: the truth is ``delta``)."""
    base = rng.uniform(0.1, 0.8, len(TIERS))
    a = _matrix("a", base + delta + rng.uniform(-seed_spread, seed_spread, (seeds, 1)), samples, rng)
    b = _matrix("b", base + rng.uniform(-seed_spread, seed_spread, (seeds, 1)), samples, rng)
    return a, b


@pytest.mark.parametrize(("seeds", "seed_spread"), [(1, 0.0), (3, 0.03)])
def test_paired_interval_covers_a_known_difference_about_95_percent_of_the_time(seeds, seed_spread):
    rng = np.random.default_rng(2026)
    covered, simulations = 0, 200
    for i in range(simulations):
        a, b = _simulate(rng, seeds, seed_spread)
        diff = paired_difference(a, b, ("overall",), BootstrapSettings(n_resamples=1000, seed=i)).iloc[0]
        covered += diff.low <= 5.0 <= diff.high
    assert 0.90 <= covered / simulations <= 0.99, covered / simulations


def _records(pattern: dict[str, list[bool]], tiers: dict[str, str] | None = None) -> pd.DataFrame:
    """Per-sample records as the evaluation cache stores them: problem -> passed per sample."""
    rows = []
    for pid, samples in pattern.items():
        for j, ok in enumerate(samples):
            rows.append({"problem_id": pid, "difficulty": (tiers or {}).get(pid, "interview"), "sample": j,
                         "passed": ok, "verdict": "passed" if ok else "compile_error"})
    return pd.DataFrame(rows)


def test_paired_difference_equals_the_hand_computation():
    # Row a passes p1 2/4, p2 4/4; row b passes p1 1/4, p2 4/4: per-problem differences 25 and 0 points.
    a = problem_matrix({0: _records({"p1": [True, True, False, False], "p2": [True] * 4})}, name="a")
    b = problem_matrix({0: _records({"p2": [True] * 4, "p1": [True, False, False, False]})}, name="b")
    diff = paired_difference(a, b, ("interview", "overall")).set_index("column")
    assert diff.loc["overall", "difference"] == pytest.approx((25.0 + 0.0) / 2)
    # Two problems: a resample holds (p1, p1), (p1, p2) or (p2, p2) with probability 1/4, 1/2, 1/4, so the
    # replicates are 25, 12.5 and 0; both tails hold 25% > 2.5%: the interval is exactly [0, 25].
    assert (diff.loc["overall", "low"], diff.loc["overall", "high"]) == (0.0, 25.0)
    assert diff.loc["interview", "difference"] == diff.loc["overall", "difference"]
    # Unpaired, the shared p2 (solved by both) would not cancel: each row alone spans a wider range.
    cell = bootstrap_cell(a, ("overall",)).iloc[0]
    assert (cell.estimate, cell.low, cell.high) == (75.0, 50.0, 100.0)


def test_paired_differences_need_the_same_problems_and_samples():
    a = problem_matrix({0: _records({"p1": [True, False], "p2": [True, True]})}, name="a")
    other = problem_matrix({0: _records({"p1": [True, False], "p3": [True, True]})}, name="b")
    with pytest.raises(ValueError, match=r"'b' and 'a' were evaluated on different problems.*p3.*p2"):
        paired_difference(a, other)
    more = problem_matrix({0: _records({"p1": [True, False, True], "p2": [True, True, True]})}, name="c")
    with pytest.raises(ValueError, match="2 samples per problem and 'c' 3"):
        paired_difference(a, more)
    with pytest.raises(ValueError, match="row 'x': seed 1 and seed 0 were evaluated on different problems"):
        problem_matrix({0: _records({"p1": [True]}), 1: _records({"p9": [True]})}, name="x")


def test_same_inputs_and_seed_give_the_same_interval():
    rng = np.random.default_rng(0)
    a, b = _simulate(rng, 2, 0.03)
    first = paired_difference(a, b)
    assert paired_difference(a, b).equals(first)
    assert not paired_difference(a, b, settings=BootstrapSettings(seed=1)).equals(first)
    # Each row's interval is its own draw: adding a row to the table changes no other interval.
    rows = {"x": {0: _records({"p1": [True, False]})}, "y": {0: _records({"p1": [False, False]})}}
    alone = cell_intervals({"x": rows["x"]})
    together = cell_intervals(rows)
    pd.testing.assert_frame_equal(alone, together[together.config == "x"].reset_index(drop=True))


def test_seed_effects_leave_out_most_sampling_noise_and_keep_a_real_seed_offset():
    rng = np.random.default_rng(1)
    raw, shrunk = [], []
    for _ in range(200):  # seeds that differ by sampling noise alone: the seed part should mostly vanish
        noise_only = 100 * rng.binomial(4, np.full((3, 400), 0.5)) / 4
        means = noise_only.mean(axis=1)
        raw.append(((means - means.mean()) ** 2).sum() * 3 / 2)
        shrunk.append((seed_effects(noise_only) ** 2).sum())
    assert np.mean(shrunk) < 0.7 * np.mean(raw)  # method of moments truncated at 0: about 0.55 expected
    offset = noise_only + np.array([[-10.0], [0.0], [10.0]])  # a real +-10 point seed effect
    effects, means = seed_effects(offset), offset.mean(axis=1)
    # Kept almost whole (the noise is 1% of this spread), scaled by sqrt(S/(S-1)) for a bootstrap of 3 values.
    assert effects[2] - effects[0] == pytest.approx((means[2] - means[0]) * math.sqrt(3 / 2), rel=0.02)
    assert not seed_effects(offset[:1]).any()  # one seed: no seed variance to resample


def _claim_numbers(stepcoder_low: float) -> pd.DataFrame:
    return pd.DataFrame([
        {"claim": "StepCoder beats vanilla RL", "row": "ppo-stepcoder", "baseline": "ppo-vanilla",
         "quantity": "pass@1", "difference": 4.0, "low": stepcoder_low, "high": 8.0, "better": "higher",
         "metric": "pass@1", "column": "overall"},
        {"claim": "fewer compile errors", "row": "ppo-stepcoder", "baseline": "ppo-vanilla", "quantity": "share",
         "difference": -3.0, "low": -5.0, "high": -1.0, "better": "lower", "metric": "compile_error",
         "column": "overall"},
        {"claim": "CCCS helps", "row": "ppo-cccs", "baseline": "ppo-vanilla", "quantity": "pass@1",
         "difference": math.nan, "low": math.nan, "high": math.nan, "better": "higher", "metric": "pass@1",
         "column": "overall", "note": "no evaluation of ppo-cccs in this run"}])


def test_verdicts_are_read_from_the_numbers_only():
    claims = with_verdicts(_claim_numbers(stepcoder_low=1.0))
    assert claims.verdict.tolist() == ["supported", "supported", "not run"]
    assert with_verdicts(_claim_numbers(stepcoder_low=-0.5)).verdict.iloc[0] == "inconclusive"
    assert verdict(-8.0, -1.0, "higher") == "contradicted" and verdict(1.0, 3.0, "lower") == "contradicted"
    text = describe_claims(claims, {"ppo-stepcoder": "StepCoder (PPO)", "ppo-vanilla": "vanilla RL (PPO)"})
    assert "StepCoder beats vanilla RL: **supported**. StepCoder (PPO) − vanilla RL (PPO) = +4.0 [+1.0, +8.0]" \
        in text and "CCCS helps: **not run** (no evaluation of ppo-cccs in this run)" in text
    assert text.startswith("Of 3 claims: 2 supported, 1 not run.")


def _row(rates: dict[str, float], samples: int = 8, seeds: int = 2) -> dict[int, pd.DataFrame]:
    """Records in which problem p passes the first round(rate x samples) samples, the rest compile errors."""
    tiers = {p: ("competition" if p.startswith("c") else "interview") for p in rates}
    return {s: _records({p: [j < round(r * samples) for j in range(samples)] for p, r in rates.items()}, tiers)
            for s in range(seeds)}


def test_the_claims_table_follows_the_verdicts_and_flips_when_the_numbers_do():
    problems = [f"i{k}" for k in range(12)] + [f"c{k}" for k in range(8)]
    vanilla = dict.fromkeys(problems, 0.25)
    better = dict.fromkeys(problems, 0.75)
    rows = {"sft": _row(vanilla, seeds=1), "ppo-vanilla": _row(vanilla), "ppo-stepcoder": _row(better)}
    claims = claims_table(rows).set_index("claim")
    assert claims.loc["StepCoder beats vanilla RL", "verdict"] == "supported"
    assert claims.loc["StepCoder beats vanilla RL", "difference"] == pytest.approx(50.0)
    assert claims.loc["StepCoder makes fewer compile errors than vanilla RL", "verdict"] == "supported"
    assert claims.loc["StepCoder makes fewer runtime errors than vanilla RL", "verdict"] == "inconclusive"  # 0 vs 0
    assert claims.loc["RL beats SFT", "verdict"] == "inconclusive"  # same numbers: the interval is [0, 0]
    assert claims.loc["CCCS helps (CCCS only vs vanilla RL)", "verdict"] == "not run"  # no ppo-cccs row
    assert claims.loc["CCCS helps (CCCS only vs vanilla RL)", "note"] == "no evaluation of ppo-cccs in this run"
    assert len(claims) == 7  # nothing dropped
    rows["ppo-stepcoder"] = _row(dict.fromkeys(problems, 0.0))  # StepCoder now fails everything
    flipped = claims_table(rows).set_index("claim")
    assert flipped.loc["StepCoder beats vanilla RL", "verdict"] == "contradicted"
    assert flipped.loc["StepCoder makes fewer compile errors than vanilla RL", "verdict"] == "contradicted"


def test_cccs_most_on_the_hardest_tier_is_the_gain_on_competition_beyond_the_other_tiers():
    problems = [f"i{k}" for k in range(12)] + [f"c{k}" for k in range(8)]
    vanilla = dict.fromkeys(problems, 0.25)
    cccs = {p: (0.75 if p.startswith("c") else 0.375) for p in problems}
    claims = claims_table({"ppo-vanilla": _row(vanilla), "ppo-cccs": _row(cccs)}).set_index("claim")
    hardest = claims.loc["CCCS helps most on the hardest tier (competition)"]
    assert hardest.difference == pytest.approx(50.0 - 12.5) and hardest.verdict == "supported"
    cccs_even = dict.fromkeys(problems, 0.75)  # the same gain everywhere: not "most on the hardest tier"
    even = claims_table({"ppo-vanilla": _row(vanilla), "ppo-cccs": _row(cccs_even)}).set_index("claim")
    assert even.loc["CCCS helps most on the hardest tier (competition)", "verdict"] == "inconclusive"
    assert even.loc["CCCS helps (CCCS only vs vanilla RL)", "verdict"] == "supported"


def test_paired_differences_cover_every_rl_row_against_vanilla_and_sft():
    problems = {f"i{k}": 0.5 for k in range(6)}
    rows = {"base": _row(problems, seeds=1), "sft": _row(problems, seeds=1), "ppo-vanilla": _row(problems),
            "ppo-fgo": _row(problems), "grpo-stepcoder": _row(problems)}
    pairs = set(zip(*paired_differences(rows, ("overall",))[["config", "baseline"]].to_numpy().T))
    assert pairs == {("ppo-vanilla", "sft"), ("ppo-fgo", "sft"), ("ppo-fgo", "ppo-vanilla"),
                     ("grpo-stepcoder", "sft")}  # grpo-vanilla was not run: no line, and base has no baseline


def test_power_helper_predicts_the_bootstraps_half_width_and_the_design_reaches_the_target():
    rng = np.random.default_rng(5)
    widths, predicted = [], []
    for i in range(20):
        a, b = _simulate(rng, 3, 0.02)
        diff = paired_difference(a, b, ("overall",), BootstrapSettings(n_resamples=1000, seed=i)).iloc[0]
        widths.append((diff.high - diff.low) / 2)
        predicted.append(half_width(pilot_variance(a, b), problems=100, samples=4, seeds=3))
    assert np.mean(predicted) == pytest.approx(np.mean(widths), rel=0.15)
    # Minimal designs for known variance components (points²): 50 between problems, 4000 sampling, 1 per seed.
    pilot = PilotVariance(50.0, 4000.0, 1.0, 1.0, 5.0, 100, 4, (3, 3))
    design = design_for_half_width(pilot, target=3.0, samples=(4, 16), seeds=(1, 3, 5))
    for d in design.itertuples():
        assert d.half_width <= 3.0 < half_width(pilot, d.problems - 1, d.samples, d.seeds)  # the fewest problems
    needed = design.set_index(["samples", "seeds"]).problems
    assert needed.loc[(16, 5)] < needed.loc[(4, 5)] < needed.loc[(4, 1)]
    # 100 problems x 4 samples x 3 seeds, as the bootstrap above: z * sqrt(50/100 + 4000/1200 + 2/3).
    assert half_width(pilot, 100, 4, 3) == pytest.approx(1.959964 * math.sqrt(0.5 + 4000 / 1200 + 2 / 3))
    seeds_too_noisy = PilotVariance(50.0, 4000.0, 25.0, 25.0, 5.0, 100, 4, (3, 3))  # 50/S: beyond (3/1.96)²
    assert design_for_half_width(seeds_too_noisy, 3.0, samples=(4,), seeds=(1, 3)).problems.isna().all()


def test_table_intervals_cover_the_apps_tiers_and_each_zero_shot_set():
    from stepcoder_lib.evaluation import EvalResult

    apps = _row({"i1": 0.5, "i2": 1.0, "c1": 0.0}, samples=4, seeds=1)[0]
    mbpp = _records({"m1": [True, False], "m2": [True, True]}, {"m1": "mbpp", "m2": "mbpp"})
    evals = {("sft", 0): {"apps_plus": EvalResult("sft", "apps_plus", "k1", apps),
                          "mbpp": EvalResult("sft", "mbpp", "k2", mbpp)},
             ("ppo-vanilla", 0): {"apps_plus": EvalResult("v", "apps_plus", "k3", apps)}}
    table = table_intervals(evals).set_index(["config", "column"])
    assert set(table.index) == {("sft", "interview"), ("sft", "competition"), ("sft", "overall"), ("sft", "MBPP"),
                                ("ppo-vanilla", "interview"), ("ppo-vanilla", "competition"),
                                ("ppo-vanilla", "overall")}  # no introductory problem: no introductory cell
    assert table.loc[("sft", "MBPP"), "estimate"] == 75.0 and table.loc[("sft", "overall"), "estimate"] == 50.0
    assert table.loc[("sft", "MBPP"), "low"] == 50.0 and table.loc[("sft", "MBPP"), "high"] == 100.0
