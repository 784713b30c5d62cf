"""Uncertainty for the results table: intervals per cell, paired differences, the paper's claims, power.

Every number here comes from the per-sample verdicts of the evaluation cache: for one table row
(a config) and one training seed, each test problem has ``n`` samples; the row's pass@1 is the mean
over seeds of the mean over problems of the per-problem estimate (``c / n`` for pass@1, the unbiased
estimator of Chen et al. for pass@k) - exactly the table's number.

**The design and the estimator.** Two sources of variance make a rerun differ: which test problems
were drawn (the test split is a sample of problems), and which training seed was run (each seed is
one draw of the RL run's randomness). Problems and seeds are *crossed*: every seed of a row is
evaluated on every problem. Each bootstrap replicate therefore resamples both, independently:

* the problems, with replacement *within their difficulty tier* (a stratified bootstrap: the test
  split is drawn per tier in proportion by ``evaluation.select_problems``, so the overall column's
  tier shares are fixed by design, not random), applied to each problem's value averaged over seeds;
* the seeds, with replacement, applied to each seed's main effect (its mean minus the grand mean),
  shrunk by the two-way ANOVA residual so that it carries no problem-level noise (``seed_effects``).

The statistic is the sum of the two, and the interval the percentile interval of the replicates.
Why this and not the plain two-way ("pigeonhole", Owen 2007) bootstrap, which resamples the cells'
values by problem and seed at once: there, the problem x seed residual (which for pass@1 from 4
samples is mostly Bernoulli noise) enters both resamples and the cross term, so it is counted two
to three times; in simulation (3 seeds, 4 samples) its 95% intervals covered 100 of 100 known
differences and were 1.2x wider than the estimate's true spread. Adjusting the
upper level of a two-level bootstrap so that it carries only its own variance is the adjusted
two-stage bootstrap of Davison & Hinkley (1997, section 3.8). The samples inside one (problem, seed)
cell are not resampled: the cell's mean already carries their noise into the problem-level spread.

Coverage measured on simulated pass matrices (100 problems, known difference 5 points, 600
simulations each): one seed per row 0.94; 2-5 seeds with seed effects of +-3 points 0.92; 3 seeds
with seed effects that dominate the variance 0.86 (5 seeds: 0.92). Few seeds are the weak point: the
seed variance is then estimated from 2-3 values and the interval undercovers, as a normal interval
does where a t with 1-2 degrees of freedom belongs. A row with one seed gets an interval over problems
and samples only (its seed variance cannot be seen); the table shows each row's seed count.

**Paired differences.** Two rows evaluated on the same problems with the same number of samples are
compared on the *same* resampled problems (one draw of problem counts for both rows), so problem
difficulty, which both rows share, cancels; their seeds are resampled independently (different
training runs). This is what makes a 3-point difference visible on 100 problems where two unpaired
intervals would overlap.

**Why not ``scipy.stats.bootstrap``** (and scipy is not a dependency). It resamples the observations
of one or several samples along one axis (``paired=True``: the same indices for every sample) and
has no second, crossed factor; resampling seeds inside its statistic would make the result depend
on state outside its ``rng``. So the resampling design is written here with numpy's
``Generator.multinomial`` (bootstrap counts) and the interval is ``numpy.quantile`` of the
replicates. Same inputs and seed give the same interval: each quantity draws from its own
generator, seeded by the settings' seed and the names of the rows involved, so adding a row changes
no other interval.

    rows = rows_from_evals(evals)                           # config -> seed -> records (apps_plus)
    cells = cell_intervals(rows)                            # config, column, estimate, low, high
    diffs = paired_differences(rows)                        # each row - vanilla RL and - SFT
    claims = claims_table(rows)                             # the paper's claims: supported / ...
    design_for_half_width(pilot_variance(rows["ppo-stepcoder"], rows["ppo-vanilla"]), target=3.0)
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from stepcoder_lib.evaluation import DIFFICULTIES, FAMILIES, family, pass_at_k

#: The APPS+ columns a per-difficulty statistic is computed for (the table's order).
TIER_COLUMNS: tuple[str, ...] = (*DIFFICULTIES, "overall")
#: Which benchmark's records give which table columns (zero-shot sets have one column: all their problems).
BENCHMARK_COLUMNS: dict[str, tuple[str, ...]] = {"apps_plus": TIER_COLUMNS, "humaneval": ("HumanEval",),
                                                 "mbpp": ("MBPP",)}
VERDICTS: tuple[str, ...] = ("supported", "contradicted", "inconclusive", "not run")
CELL_FIELDS: tuple[str, ...] = ("config", "column", "metric", "estimate", "low", "high", "seeds", "problems", "samples")
DIFFERENCE_FIELDS: tuple[str, ...] = ("config", "baseline", "column", "metric", "difference", "low", "high", "seeds",
                                      "baseline_seeds", "problems")

RowRecords = Mapping[int, pd.DataFrame]  # one table row: training seed -> its per-sample records


# ----------------------------------------------------------------------------- per-problem values
@dataclass(frozen=True)
class BootstrapSettings:
    """How many resamples, at which confidence, from which seed."""

    n_resamples: int = 4000  # the 2.5% quantile of 4000 replicates moves by ~0.1 point between seeds
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_resamples < 100:
            raise ValueError(f"n_resamples: at least 100 for a 95% percentile interval, got {self.n_resamples}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence: between 0 and 1, got {self.confidence}")


@dataclass(frozen=True)
class ProblemMatrix:
    """One table row's per-problem values (in %): one row per training seed, one column per test problem."""

    name: str
    metric: str
    values: np.ndarray  # (seeds, problems)
    problem_ids: tuple[str, ...]
    difficulties: tuple[str, ...]
    seeds: tuple[int, ...]
    samples: int  # samples per problem (the fewest any problem got)

    def mask(self, column: str) -> np.ndarray:
        """The problems a column averages: one tier, or every problem (``overall`` and zero-shot columns)."""
        tiers = np.asarray(self.difficulties)
        return tiers == column if column in DIFFICULTIES else np.ones(len(tiers), dtype=bool)

    def estimate(self, column: str = "overall") -> float:
        """The table's number: mean over seeds of the mean over the column's problems."""
        m = self.mask(column)
        return float(self.values[:, m].mean()) if m.any() else math.nan

    def aligned_to(self, other: ProblemMatrix) -> ProblemMatrix:
        """This matrix with its problems in ``other``'s order; an error naming both rows if the sets differ."""
        if self.problem_ids == other.problem_ids:
            return self
        mine, theirs = set(self.problem_ids), set(other.problem_ids)
        if mine != theirs:
            raise ValueError(f"{self.name!r} and {other.name!r} were evaluated on different problems "
                             f"(only in {self.name!r}: {sorted(mine - theirs)[:3]}, only in {other.name!r}: "
                             f"{sorted(theirs - mine)[:3]}): a paired difference needs the same problems")
        position = {p: i for i, p in enumerate(self.problem_ids)}
        order = [position[p] for p in other.problem_ids]
        return ProblemMatrix(self.name, self.metric, self.values[:, order], other.problem_ids, other.difficulties,
                             self.seeds, self.samples)


def _per_problem(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per problem: difficulty, samples and the metric's value (%): pass@k, or the share of a verdict family."""
    missing = {"problem_id", "difficulty", "passed", "verdict"} - set(records.columns)
    if missing:
        raise ValueError(f"records lack the field(s) {sorted(missing)}")
    grouped = records.groupby("problem_id", sort=False)
    out = grouped.agg(difficulty=("difficulty", "first"), n=("passed", "size"), c=("passed", "sum"))
    if metric.startswith("pass@"):
        k = int(metric.removeprefix("pass@"))
        if (out.n < k).any():
            raise ValueError(f"{metric}: problem {out.index[out.n < k][0]!r} has {int(out.n.min())} samples")
        out["value"] = 100 * pass_at_k(out.n.tolist(), out.c.tolist(), k)
    elif metric in FAMILIES:
        hits = records.verdict.map(family).eq(metric).groupby(records.problem_id, sort=False).sum()
        out["value"] = 100 * hits.reindex(out.index).to_numpy() / out.n
    else:
        raise ValueError(f"metric {metric!r}: expected pass@<k> or a verdict family ({', '.join(FAMILIES)})")
    return out


def problem_matrix(row: RowRecords, metric: str = "pass@1", name: str = "") -> ProblemMatrix:
    """Stack one row's seeds into a (seeds x problems) matrix; every seed must have the same problems."""
    if not row:
        raise ValueError(f"row {name!r}: no seed has records")
    seeds = tuple(sorted(row))
    frames = [_per_problem(row[s], metric) for s in seeds]
    first = frames[0]
    for seed, frame in zip(seeds[1:], frames[1:]):
        if set(frame.index) != set(first.index):
            extra = sorted(set(frame.index) ^ set(first.index))[:3]
            raise ValueError(f"row {name!r}: seed {seed} and seed {seeds[0]} were evaluated on different problems "
                             f"(e.g. {extra}); evaluate every seed on the same test problems")
    ids = list(first.index)
    values = np.stack([f.value.reindex(ids).to_numpy(dtype=float) for f in frames])
    samples = int(min(f.n.min() for f in frames))
    return ProblemMatrix(name, metric, values, tuple(map(str, ids)), tuple(first.difficulty.astype(str)), seeds,
                         samples)


def rows_from_evals(evals: Mapping[tuple[str, int], Mapping[str, Any]],
                    benchmark: str = "apps_plus") -> dict[str, dict[int, pd.DataFrame]]:
    """``results.evaluate_entries``'s output as config -> seed -> records, for one benchmark."""
    rows: dict[str, dict[int, pd.DataFrame]] = {}
    for (config, seed), by_benchmark in evals.items():
        result = by_benchmark.get(benchmark)
        if result is not None:
            rows.setdefault(config, {})[int(seed)] = result.records
    return rows


# ----------------------------------------------------------------------------- the resampling design
def _rng(settings: BootstrapSettings, *names: str) -> np.random.Generator:
    """A generator for one quantity: the settings' seed plus the names of the rows it involves."""
    return np.random.default_rng([settings.seed, *(zlib.crc32(n.encode()) for n in names)])


def _problem_counts(rng: np.random.Generator, difficulties: Sequence[str], n_resamples: int) -> np.ndarray:
    """Bootstrap counts (resamples x problems): each tier's problems drawn with replacement within the tier."""
    tiers = np.asarray(difficulties)
    counts = np.zeros((n_resamples, len(tiers)))
    for tier in dict.fromkeys(difficulties):
        idx = np.flatnonzero(tiers == tier)
        counts[:, idx] = rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=n_resamples)
    return counts


def _seed_weights(rng: np.random.Generator, n_seeds: int, n_resamples: int) -> np.ndarray:
    """Bootstrap weights (resamples x seeds) summing to 1: the seeds drawn with replacement."""
    return rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_resamples) / n_seeds


def seed_effects(values: np.ndarray) -> np.ndarray:
    """Each seed's main effect on the mean (points), shrunk so that it carries no problem-level noise.

    A seed's mean over n problems deviates from the grand mean by its true effect *plus* the average
    of its n problem x seed residuals (sampling noise, which problem this seed happens to solve). That
    residual is already in the problem-level resample, so the deviations are scaled by
    ``sqrt(1 - MS_residual / (n * var(seed means)))`` (the two-way ANOVA residual mean square), which
    leaves the seed means the spread of the true seed effects: the adjusted two-stage bootstrap of
    Davison & Hinkley (1997), section 3.8, applied to the seed factor. Without it the residual is
    counted twice and a 95% interval covers 99-100% of the time when samples are noisy. The
    deviations are also scaled by ``sqrt(S / (S - 1))``: a bootstrap of S values has the variance
    (S - 1)/S of the unbiased one, which matters with 2-3 seeds (Davison & Hinkley's adjusted residuals).
    """
    n_seeds, n = values.shape
    means = values.mean(axis=1)
    if n_seeds < 2:
        return np.zeros(n_seeds)
    spread = float(np.var(means, ddof=1))
    if spread == 0:
        return np.zeros(n_seeds)
    residual = values - values.mean(axis=0) - means[:, None] + values.mean()
    ms_residual = float((residual ** 2).sum()) / ((n_seeds - 1) * (n - 1)) if n > 1 else 0.0
    shrink = math.sqrt(max(0.0, 1 - ms_residual / (n * spread)))
    return (means - means.mean()) * shrink * math.sqrt(n_seeds / (n_seeds - 1))


def _replicates(matrix: ProblemMatrix, counts: np.ndarray, seed_w: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The statistic under each resample: resampled problems' seed-averaged values plus resampled seed effects."""
    values = matrix.values[:, mask]
    problems = counts[:, mask] @ values.mean(axis=0) / mask.sum()  # (resamples,)
    return problems + seed_w @ seed_effects(values)


def _interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1 - confidence
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _columns_of(matrix: ProblemMatrix, columns: Iterable[str]) -> list[str]:
    return [c for c in columns if matrix.mask(c).any()]


def bootstrap_cell(matrix: ProblemMatrix, columns: Iterable[str] = TIER_COLUMNS,
                   settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """One row's estimate and interval per column; one draw of problems and seeds serves every column."""
    rng = _rng(settings, "cell", matrix.name, matrix.metric)
    counts = _problem_counts(rng, matrix.difficulties, settings.n_resamples)
    seed_w = _seed_weights(rng, len(matrix.seeds), settings.n_resamples)
    rows = []
    for column in _columns_of(matrix, columns):
        mask = matrix.mask(column)
        low, high = _interval(_replicates(matrix, counts, seed_w, mask), settings.confidence)
        rows.append({"config": matrix.name, "column": column, "metric": matrix.metric,
                     "estimate": matrix.estimate(column), "low": low, "high": high,
                     "seeds": len(matrix.seeds), "problems": int(mask.sum()), "samples": matrix.samples})
    return pd.DataFrame(rows, columns=list(CELL_FIELDS))


def _paired_replicates(a: ProblemMatrix, b: ProblemMatrix,
                       settings: BootstrapSettings) -> tuple[ProblemMatrix, np.ndarray, np.ndarray, np.ndarray]:
    """``b`` aligned to ``a``, and the shared problem counts with each row's own seed weights."""
    b = b.aligned_to(a)
    if a.samples != b.samples:
        raise ValueError(f"{a.name!r} has {a.samples} samples per problem and {b.name!r} {b.samples}: a paired "
                         f"difference needs the same samples per problem")
    rng = _rng(settings, "paired", a.name, b.name, a.metric)
    counts = _problem_counts(rng, a.difficulties, settings.n_resamples)
    return b, counts, _seed_weights(rng, len(a.seeds), settings.n_resamples), \
        _seed_weights(rng, len(b.seeds), settings.n_resamples)


def paired_difference(a: ProblemMatrix, b: ProblemMatrix, columns: Iterable[str] = TIER_COLUMNS,
                      settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """``a - b`` per column (points) with its interval: problems resampled jointly, seeds per row."""
    b, counts, wa, wb = _paired_replicates(a, b, settings)
    rows = []
    for column in _columns_of(a, columns):
        mask = a.mask(column)
        diff = _replicates(a, counts, wa, mask) - _replicates(b, counts, wb, mask)
        low, high = _interval(diff, settings.confidence)
        rows.append({"config": a.name, "baseline": b.name, "column": column, "metric": a.metric,
                     "difference": a.estimate(column) - b.estimate(column), "low": low, "high": high,
                     "seeds": len(a.seeds), "baseline_seeds": len(b.seeds), "problems": int(mask.sum())})
    return pd.DataFrame(rows, columns=list(DIFFERENCE_FIELDS))


def paired_contrast(a: ProblemMatrix, b: ProblemMatrix, focus: str = "competition",
                    settings: BootstrapSettings = BootstrapSettings()) -> dict[str, float]:
    """How much more ``a`` gains over ``b`` on the ``focus`` tier than on the other tiers (points).

    ``(a - b) on focus - (a - b) on the rest``, from one joint resample of problems (the tiers are
    resampled separately, so the two gains' problem draws are independent) and of each row's seeds.
    """
    b, counts, wa, wb = _paired_replicates(a, b, settings)
    focus_mask = a.mask(focus)
    if focus not in DIFFICULTIES or not focus_mask.any() or focus_mask.all():
        raise ValueError(f"contrast on {focus!r}: needs problems in that tier and in others")
    gain = {}
    for name, mask in (("focus", focus_mask), ("rest", ~focus_mask)):
        gain[name] = _replicates(a, counts, wa, mask) - _replicates(b, counts, wb, mask)
    point = ((a.values[:, focus_mask].mean() - b.values[:, focus_mask].mean())
             - (a.values[:, ~focus_mask].mean() - b.values[:, ~focus_mask].mean()))
    low, high = _interval(gain["focus"] - gain["rest"], settings.confidence)
    return {"difference": float(point), "low": low, "high": high}


# ----------------------------------------------------------------------------- every row of a table
def _matrices(rows: Mapping[str, RowRecords], metric: str) -> dict[str, ProblemMatrix]:
    return {config: problem_matrix(row, metric, config) for config, row in rows.items() if row}


def cell_intervals(rows: Mapping[str, RowRecords], columns: Iterable[str] = TIER_COLUMNS, metric: str = "pass@1",
                   settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """Every row's estimate and interval per column (long frame: config, column, estimate, low, high, ...)."""
    columns = tuple(columns)
    frames = [bootstrap_cell(m, columns, settings) for m in _matrices(rows, metric).values()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(CELL_FIELDS))


def table_intervals(evals: Mapping[tuple[str, int], Mapping[str, Any]], metric: str = "pass@1",
                    settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """Intervals for every cell of the results table: APPS+ tiers and overall, then each zero-shot set."""
    frames = []
    for benchmark, columns in BENCHMARK_COLUMNS.items():
        rows = rows_from_evals(evals, benchmark)
        if not rows:
            continue
        frame = cell_intervals(rows, ("overall",) if benchmark != "apps_plus" else columns, metric, settings)
        if benchmark != "apps_plus":
            frame["column"] = columns[0]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(CELL_FIELDS))


def baselines_of(config: str) -> list[str]:
    """The rows a config is compared with: its algorithm's vanilla RL row and SFT."""
    algo, _, variant = config.partition("-")
    out = []
    if variant and variant != "vanilla":
        out.append(f"{algo}-vanilla")
    if config not in ("sft", "base"):
        out.append("sft")
    return out


def paired_differences(rows: Mapping[str, RowRecords], columns: Iterable[str] = TIER_COLUMNS,
                       metric: str = "pass@1", settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """Each RL row minus its vanilla RL row and minus SFT, per column, with paired intervals.

    A baseline that was not run gives no line (the claims table marks what it needed as "not run").
    """
    columns = tuple(columns)
    matrices = _matrices(rows, metric)
    frames = [paired_difference(matrices[config], matrices[baseline], columns, settings)
              for config in matrices for baseline in baselines_of(config) if baseline in matrices]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(DIFFERENCE_FIELDS))


# ----------------------------------------------------------------------------- the paper's claims
@dataclass(frozen=True)
class Claim:
    """One of the paper's claims as a difference of two rows that should be positive (or negative).

    ``row``/``baseline`` are configs, ``{algo}`` standing for the RL algorithm; ``focus``: the claim is
    about the gain on that tier *beyond* the gain on the other tiers (``paired_contrast``).
    """

    claim: str
    row: str
    baseline: str
    column: str = "overall"
    metric: str = "pass@1"
    better: str = "higher"  # "higher": supported when the difference's interval lies above 0; "lower": below
    focus: str | None = None

    def configs(self, algo: str) -> tuple[str, str]:
        return self.row.format(algo=algo), self.baseline.format(algo=algo)

    @property
    def quantity(self) -> str:
        what = "pass@1 (points)" if self.metric.startswith("pass@") else f"{self.metric.replace('_', ' ')}s " \
            "(% of samples)"
        where = f"gain on {self.focus} minus gain on the other tiers" if self.focus else self.column
        return f"{what}, {where}"


#: The paper's claims (Dou et al. 2024: Tables 1 and 3, Figure 4), in the order it makes them.
CLAIMS: tuple[Claim, ...] = (
    Claim("RL beats SFT", "{algo}-vanilla", "sft"),
    Claim("StepCoder beats vanilla RL", "{algo}-stepcoder", "{algo}-vanilla"),
    Claim("CCCS helps (CCCS only vs vanilla RL)", "{algo}-cccs", "{algo}-vanilla"),
    Claim("FGO helps (FGO only vs vanilla RL)", "{algo}-fgo", "{algo}-vanilla"),
    Claim("CCCS helps most on the hardest tier (competition)", "{algo}-cccs", "{algo}-vanilla",
          column="competition", focus="competition"),
    Claim("StepCoder makes fewer compile errors than vanilla RL", "{algo}-stepcoder", "{algo}-vanilla",
          metric="compile_error", better="lower"),
    Claim("StepCoder makes fewer runtime errors than vanilla RL", "{algo}-stepcoder", "{algo}-vanilla",
          metric="runtime_error", better="lower"),
)
CLAIM_FIELDS: tuple[str, ...] = ("claim", "row", "baseline", "quantity", "difference", "low", "high", "verdict",
                                 "note", "better", "metric", "column")


def verdict(low: float, high: float, better: str = "higher") -> str:
    """Supported when the interval lies on the claimed side of 0, contradicted on the other, else inconclusive."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better: 'higher' or 'lower', got {better!r}")
    if math.isnan(low) or math.isnan(high):
        return "not run"
    sign = 1 if better == "higher" else -1
    if sign * low > 0 and sign * high > 0:
        return "supported"
    if sign * low < 0 and sign * high < 0:
        return "contradicted"
    return "inconclusive"


def claim_differences(rows: Mapping[str, RowRecords], algo: str = "ppo", claims: Sequence[Claim] = CLAIMS,
                      settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """Each claim's difference and interval from this run's records; NaN where a row it needs was not run."""
    out = []
    for claim in claims:
        row, baseline = claim.configs(algo)
        numbers = {"difference": math.nan, "low": math.nan, "high": math.nan}
        missing = [c for c in (row, baseline) if not rows.get(c)]
        note = f"no evaluation of {' or '.join(missing)} in this run" if missing else ""
        if not missing:
            a = problem_matrix(rows[row], claim.metric, row)
            b = problem_matrix(rows[baseline], claim.metric, baseline)
            tiers = set(a.difficulties)
            if claim.column != "overall" and claim.column not in tiers:
                note = f"no {claim.column} problems in this run's test set"
            elif claim.focus is not None and tiers == {claim.focus}:
                note = f"only {claim.focus} problems in this run's test set: no other tier to compare with"
            elif claim.focus is not None:
                numbers = paired_contrast(a, b, claim.focus, settings)
            else:
                diff = paired_difference(a, b, (claim.column,), settings)
                numbers = diff.iloc[0][["difference", "low", "high"]].astype(float).to_dict()
        out.append({"claim": claim.claim, "row": row, "baseline": baseline, "quantity": claim.quantity, **numbers,
                    "note": note, "better": claim.better, "metric": claim.metric, "column": claim.column})
    return pd.DataFrame(out, columns=[f for f in CLAIM_FIELDS if f != "verdict"])


def with_verdicts(differences: pd.DataFrame) -> pd.DataFrame:
    """The claims table: each claim's verdict read from its interval only (``verdict``)."""
    out = differences.copy()
    if "note" not in out.columns:
        out["note"] = ""
    out["verdict"] = [verdict(lo, hi, b) for lo, hi, b in zip(out["low"].astype(float), out["high"].astype(float),
                                                               out["better"])]
    return out[list(CLAIM_FIELDS)]


def claims_table(rows: Mapping[str, RowRecords], algo: str = "ppo", claims: Sequence[Claim] = CLAIMS,
                 settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """The paper's claims, each supported / contradicted / inconclusive at the settings' confidence, or not run."""
    return with_verdicts(claim_differences(rows, algo, claims, settings))


def _points(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def describe_claims(claims: pd.DataFrame, labels: Mapping[str, str] | None = None, confidence: float = 0.95) -> str:
    """'What we saw', one markdown line per claim, written from the claims table's numbers only."""
    labels = labels or {}
    lines = []
    for c in claims.itertuples():
        row, base = labels.get(c.row, c.row), labels.get(c.baseline, c.baseline)
        if c.verdict == "not run":
            lines.append(f"- {c.claim}: **not run** ({c.note or f'{row} − {base}: no number'}).")
            continue
        lines.append(f"- {c.claim}: **{c.verdict}**. {row} − {base} = {_points(c.difference)} "
                     f"[{_points(c.low)}, {_points(c.high)}] ({c.quantity}; {confidence:.0%} interval).")
    counts = claims.verdict.value_counts()
    summary = ", ".join(f"{int(counts[v])} {v}" for v in VERDICTS if v in counts)
    return f"Of {len(claims)} claims: {summary}.\n" + "\n".join(lines)


# ----------------------------------------------------------------------------- power
@dataclass(frozen=True)
class PilotVariance:
    """Variance components (points²) of a paired difference ``a - b`` overall, estimated from a pilot run.

    The difference estimated from N problems, k samples per problem and S seeds per row has variance
    ``between_problems / N + sampling / (N k S) + (seed_a + seed_b) / S`` (a two-factor random-effects
    model: problems and seeds crossed, Bernoulli samples within). Method-of-moments estimates; a
    problem x seed interaction beyond the Bernoulli noise stays in ``between_problems``, where it does
    not shrink with more seeds (a conservative choice).
    """

    between_problems: float  # variance over problems of the true per-problem difference
    sampling: float  # mean over problems of p_a(1 - p_a) + p_b(1 - p_b): one sample's Bernoulli variance, both rows
    seed_a: float  # variance of row a's overall pass@1 over training seeds (its sampling part removed)
    seed_b: float
    difference: float  # the pilot's difference (points)
    problems: int
    samples: int
    seeds: tuple[int, int]
    note: str = ""


def pilot_variance(a: RowRecords | ProblemMatrix, b: RowRecords | ProblemMatrix,
                   seed_sd: float | None = None) -> PilotVariance:
    """The variance components of ``a - b`` overall from a pilot's per-problem pass rates.

    ``seed_sd`` (points) replaces the seed spread estimated from the pilot's seeds (needed when a row
    has a single seed: its seed variance cannot be seen, and is taken as 0 with a note unless given).
    With 2-3 pilot seeds the estimate is rough: each seed's overall mean carries the sampling noise
    of all its problems (about 5 points² at 100 problems x 4 samples), which is subtracted, and what
    remains rests on 1-2 degrees of freedom; pass ``seed_sd`` from more seeds when they exist.
    """
    ma = a if isinstance(a, ProblemMatrix) else problem_matrix(a, "pass@1", "a")
    mb = (b if isinstance(b, ProblemMatrix) else problem_matrix(b, "pass@1", "b")).aligned_to(ma)
    k = min(ma.samples, mb.samples)
    pa, pb = ma.values.mean(axis=0) / 100, mb.values.mean(axis=0) / 100  # per-problem rate, seeds pooled
    ma_n, mb_n = k * len(ma.seeds), k * len(mb.seeds)  # samples per problem and row, pooled
    # Unbiased Bernoulli variance of one sample, p(1-p) m/(m-1), from m pooled samples.
    bern_a = pa * (1 - pa) * (ma_n / (ma_n - 1) if ma_n > 1 else 1.0)
    bern_b = pb * (1 - pb) * (mb_n / (mb_n - 1) if mb_n > 1 else 1.0)
    noise = bern_a / ma_n + bern_b / mb_n  # sampling variance of each pilot per-problem difference
    d = (pa - pb) * 100
    between = max(0.0, float(np.var(d, ddof=1)) - float(noise.mean()) * 1e4) if len(d) > 1 else 0.0
    n = len(d)
    notes = []

    def seed_var(m: ProblemMatrix, bern: np.ndarray) -> float:
        if seed_sd is not None:
            return float(seed_sd) ** 2
        if len(m.seeds) < 2:
            notes.append(f"{m.name}: one seed, its seed variance taken as 0 (give seed_sd)")
            return 0.0
        overall = m.values.mean(axis=1)  # per-seed overall (points)
        return max(0.0, float(np.var(overall, ddof=1)) - float(bern.mean()) * 1e4 / (k * n))

    return PilotVariance(between, float((bern_a + bern_b).mean()) * 1e4, seed_var(ma, bern_a), seed_var(mb, bern_b),
                         float(d.mean()), n, k, (len(ma.seeds), len(mb.seeds)), "; ".join(notes))


def half_width(pilot: PilotVariance, problems: int, samples: int, seeds: int, confidence: float = 0.95) -> float:
    """The expected half-width (points) of the difference's interval for a design (normal approximation)."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    var = (pilot.between_problems / problems + pilot.sampling / (problems * samples * seeds)
           + (pilot.seed_a + pilot.seed_b) / seeds)
    return z * math.sqrt(var)


def design_for_half_width(pilot: PilotVariance, target: float = 3.0, samples: Iterable[int] = (4, 8, 16),
                          seeds: Iterable[int] = (1, 2, 3, 5), confidence: float = 0.95) -> pd.DataFrame:
    """For each (samples per problem, seeds per row): the fewest test problems that reach ``target`` points.

    ``problems`` is None where the seed variance alone exceeds the target (more seeds are needed);
    ``generations`` (problems x samples x seeds, per row) is the evaluation's cost to compare designs.
    """
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    rows = []
    for k in samples:
        for s in seeds:
            room = (target / z) ** 2 - (pilot.seed_a + pilot.seed_b) / s
            per_problem = pilot.between_problems + pilot.sampling / (k * s)
            n = math.ceil(per_problem / room) if room > 0 else None
            if n is not None:
                n = max(n, 1)
            rows.append({"samples": k, "seeds": s, "problems": n,
                         "half_width": half_width(pilot, n, k, s, confidence) if n else math.nan,
                         "generations": n * k * s if n else None})
    return pd.DataFrame(rows, columns=["samples", "seeds", "problems", "half_width", "generations"])
