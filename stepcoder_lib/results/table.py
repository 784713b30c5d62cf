"""The results table in the paper's layout, the paper's own numbers beside ours, and every cell's provenance.

Rows: base model, SFT, vanilla RL, FGO only, CCCS only, StepCoder (PPO; the same four for GRPO when
the profile trains it). Columns: pass@1 on APPS+ per difficulty and overall, then HumanEval and MBPP
zero-shot. Each of our cells is the mean over training seeds with its 95% interval (``stats``: a
bootstrap over test problems and training seeds), the sample standard deviation over seeds (ddof=1;
0 with one seed) and the min and max in the CSV. Each ablation row's paired difference from vanilla
RL and from SFT, with its interval, follows in ``table.md`` and in ``<column>_vs_vanilla`` /
``<column>_vs_sft`` columns of the CSV. Each seed's value is kept in ``cells`` with the run folder
and evaluation cache key that produced it, so every number can be traced back to (and recomputed
from) its generations and verdicts.

    cells = table_cells("ppo-stepcoder", 0, run.path, apps=result)   # one seed's cells, with provenance
    table = build_table(cells_frame, stats.table_intervals(evals))   # mean, low, high, std, min, max, n, paper
    write_table(table, cells_frame, out_dir, differences=diffs)       # table.md, table.csv, cells.csv, table.png
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stepcoder_lib.results.columns import APPS_COLUMNS, COLUMNS, ZERO_SHOT_COLUMNS, baseline_kind
from stepcoder_lib.results.figures import plot_differences, plot_results_table, save_png
from stepcoder_lib.settings.paths import portable_path
from stepcoder_lib.training.runs import CONFIGS

PAPER_SOURCE = "paper (Dou et al. 2024, Tables 1-2; DeepSeek-Coder-6.7B backbone, pass@1 %)"

#: The paper's Table 1 (APPS+ pass@1, %), every row it prints.
PAPER_TABLE1 = pd.DataFrame(
    [("CodeLlama", "13B", 18.7, 11.0, 0.0, 13.0), ("CodeLlama-Python", "13B", 29.0, 12.3, 2.9, 17.9),
     ("DeepSeek-Coder-Base", "6.7B", 13.0, 10.3, 5.0, 10.9), ("StarCoder", "15.6B", 6.3, 4.1, 0.7, 4.7),
     ("CodeLlama-Instruct", "13B", 33.3, 11.0, 1.4, 18.7), ("WizardCoder-Python-V1.0", "13B", 39.7, 15.1, 4.3, 23.6),
     ("DeepSeek-Coder-Instruct", "6.7B", 49.4, 18.7, 3.6, 29.2), ("SFT on APPS+", "6.7B", 50.1, 19.0, 6.4, 29.8),
     ("Vanilla PPO", "6.7B", 53.7, 20.1, 5.0, 31.7), ("PPOCoder", "6.7B", 54.4, 20.3, 6.4, 32.1),
     ("RLTF", "6.7B", 55.1, 20.8, 6.4, 32.7), ("StepCoder", "6.7B", 59.7, 23.5, 8.6, 36.1),
     ("w/o CCCS (FGO only)", "6.7B", 58.7, 21.7, 7.1, 34.6), ("w/o FGO (CCCS only)", "6.7B", 58.4, 23.3, 8.6, 35.5)],
    columns=["model", "size", *APPS_COLUMNS]).set_index("model")
#: The paper's Table 2 (zero-shot pass@1 after training on APPS+, %, 6.7B models).
PAPER_TABLE2 = pd.DataFrame(
    [("DeepSeek-Coder-Instruct", 78.0, 64.2), ("SFT on APPS+", 55.5, 54.8), ("Vanilla PPO", 78.0, 65.0),
     ("PPOCoder", 76.8, 63.8), ("RLTF", 76.8, 65.2), ("StepCoder", 78.7, 67.0)],
    columns=["model", *ZERO_SHOT_COLUMNS]).set_index("model")
#: Our row -> the paper's row it reproduces (the RL rows start from DeepSeek-Coder-Instruct). GRPO: none.
PAPER_ROW: dict[str, str] = {"base": "DeepSeek-Coder-Instruct", "sft": "SFT on APPS+", "ppo-vanilla": "Vanilla PPO",
                             "ppo-fgo": "w/o CCCS (FGO only)", "ppo-cccs": "w/o FGO (CCCS only)",
                             "ppo-stepcoder": "StepCoder"}


def paper_value(config: str, column: str) -> float:
    """The paper's number for one of our cells, NaN where the paper prints none."""
    row = PAPER_ROW.get(config)
    for table in (PAPER_TABLE1, PAPER_TABLE2):
        if row in table.index and column in table.columns:
            return float(table.loc[row, column])
    return math.nan


def table_cells(config: str, seed: int, run: str | Path, *, apps: Any = None, humaneval: Any = None,
                mbpp: Any = None, k: int = 1) -> list[dict[str, Any]]:
    """One seed's cells (pass@k %, APPS+ tiers, overall, zero-shot sets), each with its provenance.

    ``apps``/``humaneval``/``mbpp`` are ``evaluation.EvalResult`` (None: not evaluated, no cell).
    """
    if config not in CONFIGS:
        raise ValueError(f"config {config!r}: expected one of {', '.join(CONFIGS)}")
    cells = []
    sources = [(apps, APPS_COLUMNS)] + [(r, (c,)) for r, c in ((humaneval, "HumanEval"), (mbpp, "MBPP"))]
    for result, columns in sources:
        if result is None:
            continue
        table = result.pass_at_k([k])
        for column in columns:
            row = "overall" if column in ZERO_SHOT_COLUMNS else column
            if row not in table.index:
                continue
            cells.append({"config": config, "label": CONFIGS[config], "seed": int(seed), "column": column,
                          "value": float(table.loc[row, f"pass@{k}"]), "metric": f"pass@{k}",
                          "problems": int(table.loc[row, "problems"]), "samples": int(table.loc[row, "samples"]),
                          "run": str(run), "cache_key": result.key, "cache_dir": result.cache_dir,
                          "benchmark": result.benchmark})
    return cells


def build_table(cells: pd.DataFrame | Iterable[Mapping[str, Any]],
                intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Our cells aggregated over seeds, in the paper's row and column order, with the paper's numbers.

    Index: config (row label in ``model``); columns: a MultiIndex (column, statistic) with statistics
    ``mean``, ``low`` and ``high`` (the interval from ``intervals``, ``stats.table_intervals``'s long
    frame; NaN without one), ``std`` (sample std over seeds, 0 for one seed), ``min``, ``max``, ``n``
    (seeds), ``paper``.
    """
    cells = pd.DataFrame(list(cells)) if not isinstance(cells, pd.DataFrame) else cells
    if cells.empty:
        raise ValueError("no cells: nothing was evaluated")
    dupes = cells.duplicated(["config", "seed", "column"])
    if dupes.any():
        raise ValueError(f"two values for one cell and seed: {cells[dupes][['config', 'seed', 'column']].values[:3]}")
    configs = [c for c in CONFIGS if c in set(cells.config)]
    stats = {}
    for column in COLUMNS:
        sub = cells[cells.column == column].groupby("config").value
        agg = pd.DataFrame({"mean": sub.mean(), "low": math.nan, "high": math.nan, "std": sub.std(ddof=1).fillna(0.0),
                            "min": sub.min(), "max": sub.max(), "n": sub.size()}).reindex(configs)
        if intervals is not None and len(intervals):
            ours = intervals[intervals.column == column].set_index("config")
            agg["low"] = ours["low"].reindex(configs).astype(float)
            agg["high"] = ours["high"].reindex(configs).astype(float)
        agg["n"] = agg["n"].fillna(0).astype(int)
        agg["paper"] = [paper_value(c, column) for c in configs]
        stats[column] = agg
    table = pd.concat(stats, axis=1)
    table.insert(0, ("model", ""), [CONFIGS[c] for c in configs])
    table.index.name = "config"
    return table


def _fmt(mean: float, std: float, n: int, low: float = math.nan, high: float = math.nan) -> str:
    if n == 0 or math.isnan(mean):
        return "–"
    if not (math.isnan(low) or math.isnan(high)):
        return f"{mean:.1f} [{low:.1f}, {high:.1f}]"
    return f"{mean:.1f} ± {std:.1f}" if n > 1 else f"{mean:.1f}"


def _signed(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def format_interval(estimate: float, low: float, high: float, signed: bool = False) -> str:
    """``31.5 [28.9, 34.0]``, or ``+1.5 [−2.0, +4.9]`` for a difference; ``–`` when there is no number."""
    if any(math.isnan(x) for x in (estimate, low, high)):
        return "–"
    f = _signed if signed else (lambda x: f"{x:.1f}")
    return f"{f(estimate)} [{f(low)}, {f(high)}]"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the paper prints it: per column ours (mean [95% interval]) and the paper's, side by side."""
    out = pd.DataFrame(index=table.index)
    out["model"] = table[("model", "")]
    out["seeds"] = table[[(c, "n") for c in COLUMNS]].max(axis=1).astype(int)
    for c in COLUMNS:
        if (table[(c, "n")] == 0).all() and table[(c, "paper")].isna().all():
            continue
        low = table[(c, "low")] if (c, "low") in table.columns else [math.nan] * len(table)
        high = table[(c, "high")] if (c, "high") in table.columns else [math.nan] * len(table)
        out[c] = [_fmt(m, s, n, lo, hi) for m, s, n, lo, hi in zip(table[(c, "mean")], table[(c, "std")],
                                                                   table[(c, "n")], low, high)]
        out[f"{c} · paper"] = ["–" if math.isnan(p) else f"{p:.1f}" for p in table[(c, "paper")]]
    return out


def display_differences(differences: pd.DataFrame) -> pd.DataFrame:
    """One line per (row, baseline): the paired difference per column as ``+1.5 [−2.0, +4.9]`` (points)."""
    if differences.empty:
        return pd.DataFrame(columns=["difference", *APPS_COLUMNS])
    lines = []
    pairs = list(dict.fromkeys(zip(differences.config, differences.baseline)))
    order = {c: i for i, c in enumerate(CONFIGS)}
    for config, baseline in sorted(pairs, key=lambda p: (p[1] != "sft", order.get(p[0], 99))):
        sub = differences[(differences.config == config) & (differences.baseline == baseline)].set_index("column")
        line = {"difference": f"{CONFIGS.get(config, config)} − {CONFIGS.get(baseline, baseline)}"}
        for c in COLUMNS:
            if c in sub.index:
                r = sub.loc[c]
                line[c] = format_interval(float(r.difference), float(r.low), float(r.high), signed=True)
        lines.append(line)
    return pd.DataFrame(lines).fillna("–")


def to_markdown(table: pd.DataFrame, notes: Iterable[str] = (), differences: pd.DataFrame | None = None) -> str:
    """Markdown of ``display_table`` with the legend, then the paired differences when given."""
    has_interval = any((c, "low") in table.columns and table[(c, "low")].notna().any() for c in COLUMNS)
    ours = ("Our numbers: pass@1 (%), mean over training seeds [95% interval: bootstrap over test problems and "
            "training seeds, stratified by difficulty, results/stats.py]; standard deviation, min and max "
            "per cell in table.csv." if has_interval else
            "Our numbers: pass@1 (%), mean ± sample standard deviation over training seeds (ddof 1; one seed: "
            "the value); min and max per cell in table.csv.")
    legend = [ours, f"'· paper' columns: {PAPER_SOURCE}. GRPO rows have no paper counterpart.",
              "–: not evaluated (skipped by the profile) or not reported by the paper.", *notes]
    body = display_table(table).to_markdown(index=False, disable_numparse=True)
    text = body + "\n\n" + "\n".join(f"- {n}" for n in legend) + "\n"
    if differences is not None and not differences.empty:
        text += ("\n### Paired differences (points of pass@1)\n\n"
                 + display_differences(differences).to_markdown(index=False, disable_numparse=True)
                 + "\n\n- Each row minus its baseline on the same problems and samples: problems resampled jointly "
                   "for both rows, each row's seeds resampled on their own; [95% interval]. An interval that "
                   "excludes 0 is a difference at 95%.\n")
    return text


def to_csv_frame(table: pd.DataFrame, differences: pd.DataFrame | None = None) -> pd.DataFrame:
    """The wide CSV form: one row per model, ``<column>``, ``_low``/``_high``/``_std``/``_min``/``_max``/``_n``/
    ``_paper``, then ``<column>_vs_vanilla`` and ``<column>_vs_sft`` with their ``_low``/``_high`` (paired
    differences, NaN where the row has no such baseline)."""
    out = pd.DataFrame({"config": table.index, "model": table[("model", "")].to_numpy()})
    for c in COLUMNS:
        out[c] = table[(c, "mean")].to_numpy()
        for stat in ("low", "high", "std", "min", "max", "n", "paper"):
            out[f"{c}_{stat}"] = table[(c, stat)].to_numpy() if (c, stat) in table.columns else math.nan
    if differences is not None:
        for kind in ("vanilla", "sft"):
            sub = differences[differences.baseline.map(baseline_kind) == kind]
            for c in COLUMNS:
                col = sub[sub.column == c].set_index("config")
                for stat, name in (("difference", ""), ("low", "_low"), ("high", "_high")):
                    out[f"{c}_vs_{kind}{name}"] = col[stat].reindex(out.config).astype(float).to_numpy() \
                        if len(col) else math.nan
    return out


def read_table_csv(path: str | Path) -> pd.DataFrame:
    """A ``table.csv`` written by ``write_table`` (the reference copy or a fresh run)."""
    return pd.read_csv(path).set_index("config")


def portable_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with its ``run`` and ``cache_dir`` relative to the artifacts folder (committed files stay portable)."""
    return cells.assign(**{c: cells[c].map(portable_path) for c in ("run", "cache_dir") if c in cells})


def write_table(table: pd.DataFrame, cells: pd.DataFrame, out_dir: str | Path, notes: Iterable[str] = (),
                figure: bool = True, differences: pd.DataFrame | None = None) -> dict[str, Path]:
    """``table.md``, ``table.csv``, ``cells.csv`` (one line per seed and cell, with provenance), ``table.png``;
    with ``differences`` (``stats.paired_differences``) also ``differences.csv`` and ``differences.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "table.md", "csv": out / "table.csv", "cells": out / "cells.csv"}
    paths["markdown"].write_text(to_markdown(table, notes, differences), encoding="utf-8")
    to_csv_frame(table, differences).to_csv(paths["csv"], index=False, float_format="%.4f")
    if differences is not None:
        paths["differences"] = out / "differences.csv"
        differences.to_csv(paths["differences"], index=False, float_format="%.4f")
    cells = portable_cells(cells)
    cells.sort_values(["config", "column", "seed"]).to_csv(paths["cells"], index=False, float_format="%.4f")
    if figure:
        paths["figure"] = save_png(plot_results_table(table), out / "table.png")
        if differences is not None:
            paths["differences_figure"] = save_png(plot_differences(differences), out / "differences.png")
    (out / "provenance.json").write_text(json.dumps(
        {f"{r.config}/{r.column}/seed{r.seed}": {"value": r.value, "run": r.run, "cache_key": r.cache_key}
         for r in cells.itertuples()}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    paths["provenance"] = out / "provenance.json"
    return paths


def _quantities(frame: pd.DataFrame) -> list[str]:
    """The table.csv columns that are estimates: each table column and each paired difference."""
    diffs = [f"{c}_vs_{kind}" for kind in ("vanilla", "sft") for c in COLUMNS]
    return [q for q in (*COLUMNS, *diffs) if q in frame.columns]


def _get(frame: pd.DataFrame, config: str, column: str) -> float:
    if config not in frame.index or column not in frame.columns:
        return math.nan
    return float(frame.loc[config, column])


def difference_interval(ours: tuple[float, float, float], reference: tuple[float, float, float]) -> tuple[float, float]:
    """The interval of ``ours - reference`` for two independent estimates, each given as (estimate, low, high).

    MOVER (Zou & Donner 2008, "Construction of confidence limits about effect measures", Stat Med
    27(10)): each side's half-width is the root sum of squares of the two intervals' half-widths on
    the sides that move the difference that way; it keeps each interval's asymmetry.
    """
    (cur, cur_low, cur_high), (ref, ref_low, ref_high) = ours, reference
    d = cur - ref
    return (d - math.hypot(cur - cur_low, ref_high - ref), d + math.hypot(cur_high - cur, ref - ref_low))


def compare_to_reference(current: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Each estimate of a rerun's table against the reference table, judged by their intervals.

    Estimates: every cell and every paired difference (``<column>_vs_vanilla``/``_vs_sft``). One is
    ``within`` when the interval of rerun - reference (``difference_interval``, both tables' 95%
    intervals) contains 0; where the reference has no interval (an older reference), when the
    reference value lies in the rerun's interval. ``outside`` otherwise; ``no interval`` when the rerun
    has none (regenerate the table); ``missing`` when the reference has it and we do not, ``new`` the
    other way round. Both frames are ``read_table_csv`` forms (index config).
    """
    rows = []
    for config in list(dict.fromkeys([*reference.index, *current.index])):
        for q in list(dict.fromkeys([*_quantities(reference), *_quantities(current)])):
            ref, cur = _get(reference, config, q), _get(current, config, q)
            if math.isnan(ref) and math.isnan(cur):
                continue
            cur_iv = (cur, _get(current, config, f"{q}_low"), _get(current, config, f"{q}_high"))
            ref_iv = (ref, _get(reference, config, f"{q}_low"), _get(reference, config, f"{q}_high"))
            low = high = math.nan
            rule = ""
            if math.isnan(cur):
                status = "missing"
            elif math.isnan(ref):
                status = "new"
            elif any(math.isnan(x) for x in cur_iv):
                status = "no interval"
            elif any(math.isnan(x) for x in ref_iv):
                rule, (low, high) = "reference in our interval", (cur_iv[1] - ref, cur_iv[2] - ref)
                status = "within" if low <= 0 <= high else "outside"
            else:
                rule, (low, high) = "difference interval (MOVER)", difference_interval(cur_iv, ref_iv)
                status = "within" if low <= 0 <= high else "outside"
            rows.append({"config": config, "quantity": q, "ours": cur, "reference": ref, "difference": cur - ref,
                         "low": low, "high": high, "rule": rule, "status": status})
    return pd.DataFrame(rows, columns=["config", "quantity", "ours", "reference", "difference", "low", "high",
                                       "rule", "status"])
