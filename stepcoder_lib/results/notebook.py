"""What notebook 06 runs: every model of the ablation evaluated (from the cache when it can), then the
table, its provenance and the figures, written to ``papermill_runs/<profile>/results/``.

    entries, notes = model_entries(profile, runs_root(profile.name))
    evals = evaluate_entries(entries, {"apps_plus": (problems, apps_format(profile))}, settings, executor, profile)
    cells = collect_cells(entries, evals)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.models.tiny import base_model_path
from stepcoder_lib.results import figures
from stepcoder_lib.results.evaluation import (
    EvalResult,
    EvalSettings,
    ModelRef,
    evaluate,
    failure_breakdown_by_model,
    load_for_eval,
    pass_at_k_by_model,
)
from stepcoder_lib.results.prompts import PromptFormat
from stepcoder_lib.results.table import table_cells
from stepcoder_lib.settings.paths import repo_root
from stepcoder_lib.settings.progress import progress as progress_bar
from stepcoder_lib.training.runs import CONFIGS, Run, discover_runs
from stepcoder_lib.training.sft import train_sft

BENCHMARK_COLUMNS = {"apps_plus": "apps", "humaneval": "humaneval", "mbpp": "mbpp"}


def results_dir(profile: str) -> Path:
    """``papermill_runs/<profile>/results``: where notebook 06 writes the table and the figures."""
    return repo_root() / "papermill_runs" / profile / "results"


@dataclass
class Entry:
    """One model to evaluate: a row of the table (``config``) and one seed of it."""

    config: str
    seed: int
    origin: str  # the run folder, or the base model's id/path: each cell's provenance
    ref: ModelRef

    @property
    def label(self) -> str:
        return CONFIGS[self.config]


def _looks_like_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not Path(source).exists()


def default_base_source(profile: Any) -> str:
    """The base model's folder (``models.tiny.base_model_path``: the tiny model built here, cached) or hub id."""
    return str(base_model_path(profile))


def default_sft_source(profile: Any) -> str | None:
    """The profile's SFT baseline (``training.sft.train_sft``: notebook 02's cached model)."""
    return str(train_sft(profile))


def model_entries(profile: Any, root: str | Path, include_base: bool = True, include_sft: bool = True,
                  configs: Sequence[str] | None = None, *,
                  base_source: Callable[[Any], str] = default_base_source,
                  sft_source: Callable[[Any], str | None] = default_sft_source,
                  loader: Callable[[str, Any], tuple[Any, Any]] = load_for_eval) -> tuple[list[Entry], list[str]]:
    """The models to evaluate, in table order, and notes on everything left out (with why).

    Runs come from ``root`` (``runs.discover_runs``). The base and SFT rows come from run folders
    when they hold them, else from ``base_source``/``sft_source`` (the profile's base model and SFT
    baseline). A folder or hub id is identified by its files or commit; a name only the training
    code resolves (``tiny``) is loaded here and identified by its parameters.
    """
    runs, notes = discover_runs(root)
    runs = [r for r in runs if configs is None or r.config in configs]
    wanted = set(CONFIGS if configs is None else configs)
    entries: list[Entry] = []
    if include_base and "base" in wanted and not any(r.config == "base" for r in runs):
        try:
            source = base_source(profile)
            if Path(source).expanduser().is_dir() or _looks_like_hub_id(source):
                entries.append(Entry("base", 0, source, ModelRef(CONFIGS["base"], source=source)))
            else:
                model, tok = loader(source, profile)
                entries.append(Entry("base", 0, f"profile {profile.name}: model.base={source}",
                                     ModelRef(CONFIGS["base"], model=model, tokenizer=tok)))
        except (OSError, ValueError, RuntimeError) as exc:  # unreachable weights: one row missing, with why
            notes.append(f"base model {profile.model.base!r}: not evaluated ({type(exc).__name__}: {exc})")
    if include_sft and "sft" in wanted and not any(r.config == "sft" for r in runs):
        try:
            sft = sft_source(profile)
        except (OSError, ValueError, RuntimeError) as exc:
            notes.append(f"SFT baseline: not evaluated ({type(exc).__name__}: {exc})")
        else:
            if sft is None:
                notes.append("SFT baseline: no sft run folder and no SFT model from sft_source: not evaluated")
            else:
                entries.append(Entry("sft", 0, sft, ModelRef(f"{CONFIGS['sft']} seed0", source=sft)))
    for run in runs:
        if not run.has_model:
            continue  # discover_runs already noted it
        entries.append(Entry(run.config, run.seed, str(run.path),
                             ModelRef(f"{run.label} seed{run.seed}", source=run.model_dir)))
    order = {c: i for i, c in enumerate(CONFIGS)}
    entries.sort(key=lambda e: (order[e.config], e.seed))
    return entries, notes


def evaluate_entries(entries: Sequence[Entry], benchmarks: Mapping[str, tuple[Sequence[Problem], PromptFormat]],
                     settings: EvalSettings, executor: Any, profile: Any, *, use_cache: bool = True,
                     cache: Any = None, progress: bool = True) -> dict[tuple[str, int], dict[str, EvalResult]]:
    """Every entry on every benchmark (``{name: (problems, PromptFormat)}``); results by (config, seed)."""
    out: dict[tuple[str, int], dict[str, EvalResult]] = {}
    jobs = [(e, name) for e in entries for name in benchmarks]
    bar = progress_bar(jobs, desc="evaluating models", unit="eval", enabled=progress)
    for entry, name in bar:
        bar.set_postfix(model=entry.ref.name, benchmark=name)
        problems, fmt = benchmarks[name]
        out.setdefault((entry.config, entry.seed), {})[name] = evaluate(
            entry.ref, problems, fmt, settings, executor, profile=profile, cache=cache, benchmark=name,
            use_cache=use_cache)
    return out


def evaluations_frame(entries: Sequence[Entry], evals: Mapping[tuple[str, int], Mapping[str, EvalResult]],
                      ks: Sequence[int]) -> pd.DataFrame:
    """One row per (model, seed, benchmark): pass@k overall, cache key and folder, timings, cache hit."""
    rows = []
    for e in entries:
        for name, r in evals.get((e.config, e.seed), {}).items():
            table = r.pass_at_k(ks)
            rows.append({"config": e.config, "model": e.label, "seed": e.seed, "benchmark": name,
                         **{f"pass@{k}": table.loc["overall", f"pass@{k}"] for k in ks},
                         "problems": int(table.loc["overall", "problems"]), "from_cache": r.from_cache,
                         "generate_s": r.meta.get("generate_s"), "execute_s": r.meta.get("execute_s"),
                         "cache_key": r.key, "origin": e.origin})
    return pd.DataFrame(rows)


def collect_cells(entries: Sequence[Entry], evals: Mapping[tuple[str, int], Mapping[str, EvalResult]],
                  k: int = 1) -> pd.DataFrame:
    """The table's cells (pass@k per seed and column) with provenance, from the evaluations."""
    cells = []
    for e in entries:
        results = evals.get((e.config, e.seed), {})
        cells += table_cells(e.config, e.seed, e.origin, k=k,
                             **{BENCHMARK_COLUMNS[name]: r for name, r in results.items()})
    return pd.DataFrame(cells)


def by_model(entries: Sequence[Entry], evals: Mapping[tuple[str, int], Mapping[str, EvalResult]],
             benchmark: str = "apps_plus", configs: Sequence[str] | None = None) -> dict[str, list[EvalResult]]:
    """One benchmark's results grouped by table row label (seeds together), in table order."""
    grouped: dict[str, list[EvalResult]] = {}
    for e in entries:
        if configs is not None and e.config not in configs:
            continue
        result = evals.get((e.config, e.seed), {}).get(benchmark)
        if result is not None:
            grouped.setdefault(e.label, []).append(result)
    return grouped


def write_figures(metrics: pd.DataFrame, grouped: Mapping[str, Sequence[EvalResult]], ks: Sequence[int],
                  out_dir: str | Path, smooth: int = 1) -> dict[str, Path]:
    """Every results figure as PNG in ``out_dir`` (and its data as CSV beside it)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    breakdown = failure_breakdown_by_model(grouped)
    curves = pass_at_k_by_model(grouped, ks)
    breakdown.to_csv(out / "failure_breakdown.csv", index=False, float_format="%.4f")
    curves.to_csv(out / "pass_at_k.csv", index=False, float_format="%.4f")
    made = {"training_reward": figures.plot_training_reward(metrics, smooth),
            "curriculum_progress": figures.plot_curriculum_progress(metrics, smooth),
            "fgo_kept_share": figures.plot_fgo_kept_share(metrics, smooth),
            "failure_breakdown": figures.plot_failure_breakdown(breakdown),
            "pass_at_k": figures.plot_pass_at_k(curves)}
    return {name: figures.save_png(fig, out / f"{name}.png") for name, fig in made.items()}


def runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """The runs found, one row each (for the notebook's first table)."""
    return pd.DataFrame([{"config": r.config, "model": r.label, "seed": r.seed, "has model": r.has_model,
                          "metrics": r.metrics_path.is_file(), "path": str(r.path)} for r in runs],
                        columns=["config", "model", "seed", "has model", "metrics", "path"])
