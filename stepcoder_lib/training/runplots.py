"""Tables and plots of RL runs (their ``metrics.jsonl``): what notebooks 03-06 show.

    frame = runs_frame([run_a, run_b])             # one row per (run, step): algo, setting, seed, metrics
    plot_curves(frame, ["reward_mean", "pass_rate"])  # mean over seeds per (algo, setting), band = min..max
    before_after(frame)                             # reward and pass rate at the start and the end, per run
    probe_table(run_dirs)                           # SFT start vs trained end on the same fixed problems
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from stepcoder_lib.training.runlog import read_metrics

#: Labels of the metrics the notebooks plot.
LABELS = {
    "reward_mean": "training reward (Eq. 3)", "pass_rate": "pass rate (training rollouts)",
    "pass_rate_stage0": "pass rate, whole-program rollouts", "stage_mean": "mean CCCS stage",
    "remaining_share_mean": "share of solution left to write", "fgo_kept_share": "FGO: completion tokens kept",
    "kl": "KL to the SFT model (per token)", "entropy": "entropy (per token)", "policy_loss": "policy loss",
    "value_loss": "value loss", "clip_fraction": "clip fraction",
}
DIFFICULTIES = ("introductory", "interview", "competition")


def runs_frame(run_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """Every step of every run, with the run's algo, setting and seed (from its ``config.json``)."""
    parts = []
    for run in run_dirs:
        cfg = json.loads((Path(run) / "config.json").read_text())
        m = read_metrics(run).reset_index()
        m.insert(0, "seed", cfg["seed"])
        m.insert(0, "setting", cfg["setting"])
        m.insert(0, "algo", cfg["algo"])
        m.insert(0, "run", str(run))
        parts.append(m)
    frame = pd.concat(parts, ignore_index=True)
    frame["label"] = frame["algo"].str.upper() + " " + frame["setting"]
    return frame


def mean_over_seeds(frame: pd.DataFrame, metric: str, window: int = 1) -> pd.DataFrame:
    """Per (label, step): mean, min and max over seeds of ``metric`` (after a trailing rolling mean per run)."""
    f = frame[["label", "seed", "step", metric]].dropna().sort_values("step")
    f[metric] = f.groupby(["label", "seed"])[metric].transform(lambda s: s.rolling(window, min_periods=1).mean())
    return f.groupby(["label", "step"])[metric].agg(["mean", "min", "max"]).reset_index()


def plot_curves(frame: pd.DataFrame, metrics: Sequence[str], window: int = 3, ncols: int = 2,
                title: str | None = None) -> Any:
    """One panel per metric, one line per (algo, setting): the mean over seeds, shaded between min and max."""
    import matplotlib.pyplot as plt  # lazy: importing this module needs no matplotlib

    metrics = [m for m in metrics if m in frame and frame[m].notna().any()]
    nrows = max(1, -(-len(metrics) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.5 * ncols, 3.4 * nrows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        stats = mean_over_seeds(frame, metric, window)
        for label, g in stats.groupby("label"):
            ax.plot(g["step"], g["mean"], label=label)
            ax.fill_between(g["step"], g["min"], g["max"], alpha=0.15)
        ax.set_title(LABELS.get(metric, metric), fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    if metrics:
        axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_pass_rate_by_difficulty(frame: pd.DataFrame, window: int = 3) -> Any:
    """Training pass rate per difficulty tier (one panel each), per (algo, setting)."""
    cols = [f"pass_rate/{d}" for d in DIFFICULTIES if f"pass_rate/{d}" in frame]
    fig = plot_curves(frame, cols, window=window, ncols=max(1, len(cols)))
    for ax, col in zip(fig.axes, cols):
        ax.set_title(f"pass rate: {col.split('/')[1]}", fontsize=10)
    return fig


def plot_stage_histogram(run_dir: str | Path, ax: Any = None) -> Any:
    """Problems per CCCS stage over training (stacked): the curriculum moving its start points back toward 0."""
    import matplotlib.pyplot as plt  # lazy: importing this module needs no matplotlib

    m = read_metrics(run_dir)
    cols = sorted((c for c in m.columns if c.startswith("stage_hist/")), key=lambda c: int(c.split("/")[1]))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.4))
    hist = m[cols].fillna(0)
    ax.stackplot(hist.index, hist.T.values, labels=[f"stage {c.split('/')[1]}" for c in cols])
    ax.set_xlabel("step")
    ax.set_ylabel("problems")
    ax.set_title("CCCS: problems per stage (0 = whole program)", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    return ax.figure


def before_after(frame: pd.DataFrame, k: int = 3,
                 metrics: Sequence[str] = ("reward_mean", "pass_rate", "pass_rate_stage0")) -> pd.DataFrame:
    """Per run: each metric's mean over its first ``k`` and last ``k`` steps, and the change."""
    rows = []
    for (label, seed), g in frame.sort_values("step").groupby(["label", "seed"]):
        row: dict[str, Any] = {"run": label, "seed": seed, "steps": int(g["step"].max())}
        for metric in metrics:
            if metric not in g or g[metric].isna().all():
                continue
            first, last = g[metric].head(k).mean(), g[metric].tail(k).mean()
            row.update({f"{metric} first {k}": first, f"{metric} last {k}": last, f"{metric} change": last - first})
        rows.append(row)
    return pd.DataFrame(rows).set_index(["run", "seed"])


def probe_table(run_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """Per finished run: whole-program reward and pass rate of the SFT start and the trained end on the same
    fixed training problems (``done.json``'s probe; see ``train.probe``), and the change; for CCCS runs also
    the reward of both on the curriculum's final tasks (prefix given, the tasks the run trained on last)."""
    rows = []
    for run in run_dirs:
        done = json.loads((Path(run) / "done.json").read_text())
        probe = done.get("probe") or {}
        if "start" not in probe or "end" not in probe:
            continue
        row: dict[str, Any] = {"run": f"{done['algo'].upper()} {done['setting']}", "seed": done["seed"]}
        for metric in ("reward_mean", "pass_rate"):
            row[f"{metric} SFT"] = probe["start"][metric]
            row[f"{metric} trained"] = probe["end"][metric]
            row[f"{metric} change"] = probe["end"][metric] - probe["start"][metric]
        if "start_staged" in probe and "end_staged" in probe:
            row["reward_mean on CCCS tasks SFT"] = probe["start_staged"]["reward_mean"]
            row["reward_mean on CCCS tasks trained"] = probe["end_staged"]["reward_mean"]
            row["reward_mean on CCCS tasks change"] = (probe["end_staged"]["reward_mean"]
                                                       - probe["start_staged"]["reward_mean"])
        row["rollouts"] = int(probe["end"]["rollouts"])
        rows.append(row)
    return pd.DataFrame(rows).set_index(["run", "seed"]) if rows else pd.DataFrame()


def show_ablation(run_dirs: Sequence[str | Path], metrics: Sequence[str], title: str,
                  png: str | Path | None = None) -> pd.DataFrame:
    """What an ablation notebook shows after training: the probe table, the first and last steps, the curves
    (saved to ``png``) and the pass rate per difficulty. Returns the runs' metrics frame."""
    from IPython.display import display  # lazy: importing this module needs no IPython

    frame = runs_frame(run_dirs)
    display(probe_table(run_dirs))  # the SFT model and the trained policy on the same fixed problems (whole programs)
    display(before_after(frame))  # the training curves' first and last steps
    fig = plot_curves(frame, metrics, title=title)
    if png is not None:
        fig.savefig(png, dpi=120, bbox_inches="tight")
    plot_pass_rate_by_difficulty(frame)
    return frame
