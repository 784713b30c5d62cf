"""The results figures: training curves per configuration, Figure 4's failure breakdown, pass@k, the table.

Built on ``matplotlib.figure.Figure`` (no pyplot state) and returned, so a notebook shows them
(``IPython.display.Image(figure_png(fig))``) and ``save_png`` writes them byte-identically for the
same data. Curves over seeds are drawn as the mean with a min-max band: with 2-3 seeds a band says
more than a standard deviation would.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stepcoder_lib.runs import CONFIGS, metric_column

_TIERS = ("introductory", "interview", "competition", "overall")


def _figure(width: float = 7.0, height: float = 3.6, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def figure_png(fig: Any) -> bytes:
    """PNG bytes of a figure (no timestamp or software tag, so reruns are byte-identical)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def save_png(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(figure_png(fig))
    return path


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------- training curves
def plot_training_curves(metrics: pd.DataFrame, quantity: str, title: str, ylabel: str,
                         smooth: int = 1) -> Any:
    """One line per configuration: the mean over seeds of ``quantity`` per step, min-max band over seeds.

    ``metrics`` is ``runs.load_metrics``'s long frame; ``quantity`` a key of ``runs.METRIC_ALIASES``;
    ``smooth`` a rolling-mean window in steps (1: raw).
    """
    fig, (ax,) = _figure()
    column = metric_column(metrics, quantity) if not metrics.empty else None
    if column is None:
        _empty(ax, f"no run logged {quantity!r}")
    else:
        configs = [c for c in CONFIGS if c in set(metrics.config) and metrics.loc[metrics.config == c, column]
                   .notna().any()]
        for color, config in zip(_colors(len(configs)), configs):
            sub = metrics[metrics.config == config].dropna(subset=[column])
            wide = sub.pivot_table(index="step", columns="seed", values=column, aggfunc="mean").sort_index()
            wide = wide.rolling(smooth, min_periods=1).mean()
            seeds = wide.shape[1]
            ax.plot(wide.index, wide.mean(axis=1), color=color,
                    label=f"{CONFIGS[config]} ({seeds} seed{'s' if seeds != 1 else ''})")
            if wide.shape[1] > 1:
                ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=color, alpha=0.18, lw=0)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    return fig


def plot_training_reward(metrics: pd.DataFrame, smooth: int = 1) -> Any:
    return plot_training_curves(metrics, "reward", "Training reward per configuration (mean, min-max over seeds)",
                                "mean rollout reward", smooth)


def plot_curriculum_progress(metrics: pd.DataFrame, smooth: int = 1) -> Any:
    """Mean CCCS stage over training: falls toward 0 (the whole program) as problems are mastered."""
    return plot_training_curves(metrics, "mean_stage", "Curriculum progress (CCCS): mean stage of the problems",
                                "mean stage (0 = whole program)", smooth)


def plot_fgo_kept_share(metrics: pd.DataFrame, smooth: int = 1) -> Any:
    """Share of completion tokens FGO keeps in the loss (executed code) over training."""
    return plot_training_curves(metrics, "fgo_kept", "FGO: share of completion tokens kept in the loss",
                                "kept share", smooth)


# ----------------------------------------------------------------------------- evaluation figures
def plot_failure_breakdown(breakdown: pd.DataFrame) -> Any:
    """Figure 4 of the paper: compile errors and runtime errors + wrong answers, per difficulty and model.

    ``breakdown`` is ``evaluation.failure_breakdown_by_model``'s long frame (shares in %).
    """
    fig, axes = _figure(10.0, 3.6, ncols=2)
    if breakdown.empty:
        for ax in axes:
            _empty(ax, "nothing evaluated")
        return fig
    models = list(dict.fromkeys(breakdown.model))
    tiers = [t for t in _TIERS if t in set(breakdown.difficulty)] or sorted(set(breakdown.difficulty))
    panels = [("Compile errors", ("compile_error",)), ("Runtime errors + wrong answers",
                                                        ("runtime_error", "wrong_answer"))]
    width = 0.8 / max(1, len(models))
    x = np.arange(len(tiers))
    for ax, (title, families) in zip(axes, panels):
        for i, (color, model) in enumerate(zip(_colors(len(models)), models)):
            sub = breakdown[(breakdown.model == model) & breakdown.family.isin(families)]
            values = [sub[sub.difficulty == t].share.sum() for t in tiers]
            ax.bar(x + (i - (len(models) - 1) / 2) * width, values, width, color=color, label=model)
        ax.set_xticks(x, tiers, fontsize=8)
        ax.set_ylabel("% of samples")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    return fig


def plot_pass_at_k(curves: pd.DataFrame, title: str = "pass@k (overall, APPS+ test)") -> Any:
    """pass@k against k per model (``evaluation.pass_at_k_by_model``), min-max band over seeds."""
    fig, (ax,) = _figure(6.0, 3.6)
    if curves.empty:
        _empty(ax, "nothing evaluated")
        return fig
    models = list(dict.fromkeys(curves.model))
    for color, model in zip(_colors(len(models)), models):
        sub = curves[curves.model == model].sort_values("k")
        ax.plot(sub.k, sub["mean"], marker="o", color=color, label=model)
        if (sub.n > 1).any():
            ax.fill_between(sub.k, sub["min"], sub["max"], color=color, alpha=0.15, lw=0)
    ks = sorted(set(curves.k))
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_results_table(table: pd.DataFrame) -> Any:
    """The results table as bars: ours on the left (mean; error bars: the 95% interval where the table has
    one, else the std over seeds clipped at 0), the paper's on the right."""
    from stepcoder_lib.results_table import COLUMNS

    fig, axes = _figure(11.0, 4.2, ncols=2)
    labels = list(table[("model", "")])
    width = 0.8 / max(1, len(labels))
    colors = _colors(len(labels))
    has_interval = any((c, "low") in table.columns and table[(c, "low")].notna().any() for c in COLUMNS)
    ours = "ours: pass@1 (%), mean [95% interval]" if has_interval else "ours: pass@1 (%), mean ± std over seeds"
    panels = ((axes[0], ours, "mean", "n"),
              (axes[1], "the paper's (Dou et al. 2024, Tables 1-2), pass@1 (%)", "paper", "paper"))
    for ax, title, stat, present in panels:
        columns = [c for c in COLUMNS if table[(c, present)].fillna(0).ne(0).any()]
        x = np.arange(len(columns))
        for i, (label, color) in enumerate(zip(labels, colors)):
            row = table.iloc[i]
            values = np.array([row[(c, stat)] for c in columns], dtype=float)
            if np.isnan(values).all():
                continue
            err = None
            if stat == "mean" and has_interval:
                low = np.array([row[(c, "low")] for c in columns], dtype=float)
                high = np.array([row[(c, "high")] for c in columns], dtype=float)
                err = [np.nan_to_num(values - low), np.nan_to_num(high - values)]
            elif stat == "mean":
                std = np.nan_to_num(np.array([row[(c, "std")] for c in columns], dtype=float))
                err = [np.minimum(std, np.nan_to_num(values)), std]
            ax.bar(x + (i - (len(labels) - 1) / 2) * width, values, width, yerr=err, color=color, label=label,
                   error_kw={"lw": 0.8, "capsize": 2})
        if not columns:
            _empty(ax, "no numbers")
        ax.set_xticks(x, columns, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("pass@1 (%)")
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=7, loc="outside lower center", ncols=min(5, max(1, len(names))))
    return fig


def plot_differences(differences: pd.DataFrame, confidence: float = 0.95) -> Any:
    """Forest plot of the paired differences (``stats.paired_differences``): one panel per baseline kind
    (vanilla RL, SFT), one line per row and column (difficulty tiers and overall), the point and its interval.

    An interval that does not cross the dashed line at 0 is a difference at ``confidence``.
    """
    from stepcoder_lib.results_table import baseline_kind

    fig, axes = _figure(11.0, 4.6, ncols=2)
    if differences.empty:
        for ax in axes:
            _empty(ax, "no paired difference (needs SFT or a vanilla RL row)")
        return fig
    kinds = {"vanilla": "row − vanilla RL (same algorithm)", "sft": "row − SFT"}
    columns = [c for c in _TIERS if c in set(differences.column)] + sorted(
        set(differences.column) - set(_TIERS))
    colors = dict(zip(columns, _colors(len(columns))))
    order = {c: i for i, c in enumerate(CONFIGS)}
    for ax, (kind, title) in zip(axes, kinds.items()):
        sub = differences[differences.baseline.map(baseline_kind) == kind]
        configs = sorted(set(sub.config), key=lambda c: order.get(c, 99))
        if not configs:
            _empty(ax, f"no {kind} baseline in this run")
            ax.set_title(title, fontsize=10)
            continue
        step = 1.0 / (len(columns) + 1)
        for i, config in enumerate(configs):
            for j, column in enumerate(columns):
                hit = sub[(sub.config == config) & (sub.column == column)]
                if hit.empty:
                    continue
                r = hit.iloc[0]
                y = -(i + (j + 1) * step)
                ax.errorbar(r.difference, y, xerr=[[r.difference - r.low], [r.high - r.difference]], fmt="o",
                            ms=4, color=colors[column], capsize=2, lw=1,
                            label=column if i == 0 else None)
        ax.axvline(0, color="0.3", ls="--", lw=0.8)
        ax.set_yticks([-(i + 0.5) for i in range(len(configs))], [CONFIGS.get(c, c) for c in configs], fontsize=8)
        for i in range(1, len(configs)):
            ax.axhline(-i, color="0.85", lw=0.6)
        ax.set_xlabel(f"difference in pass@1 (points), {confidence:.0%} interval")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    if not handles:
        handles, names = axes[1].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=7, loc="outside lower center", ncols=max(1, len(names)))
    return fig
