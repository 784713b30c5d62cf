"""Where training runs live and how the results notebook finds them: the run registry.

Every trained model of the ablation is one *run*, in one folder::

    artifacts_dir()/runs/<profile>/<config>/seed<k>/
        config.json      the effective configuration (profiles.save_effective_config), plus run settings
        metrics.jsonl    one JSON object per optimisation step (keys below)
        model/           the final policy, save_pretrained format (weights + config + tokenizer)

``<config>`` names one row of the paper's ablation table (``CONFIGS``): ``base`` (optional: when it
is absent the results notebook evaluates ``profile.model.base``), ``sft``, and per RL algorithm
``<algo>-vanilla`` / ``-fgo`` / ``-cccs`` / ``-stepcoder`` (``config_name`` builds them). Writers
(the trainers, notebooks 02-05) should use ``run_dir``; readers use ``discover_runs``.

``metrics.jsonl`` keys the figures read (``METRIC_KEYS``; any other keys are kept and ignored):
``step`` (int, from 0 or 1), ``reward_mean`` (mean rollout reward), ``pass_rate`` (share of rollouts
that passed), ``mean_stage`` (mean CCCS stage over the training problems; absent or 0 without CCCS),
``fgo_kept_share`` (share of completion tokens FGO keeps in the loss; absent or 1 without FGO).
A few common spellings of each are accepted too (``METRIC_ALIASES``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stepcoder_lib.paths import artifacts_dir

#: Row label of every config, in the paper's table order (base model, SFT, then the RL ablation).
ALGOS: tuple[str, ...] = ("ppo", "grpo")
_VARIANTS: dict[str, str] = {"vanilla": "vanilla RL", "fgo": "FGO only", "cccs": "CCCS only", "stepcoder": "StepCoder"}
CONFIGS: dict[str, str] = {
    "base": "base model",
    "sft": "SFT",
    **{f"{algo}-{v}": f"{label} ({algo.upper()})" for algo in ALGOS for v, label in _VARIANTS.items()},
}
METRIC_KEYS: dict[str, str] = {"reward": "reward_mean", "pass_rate": "pass_rate", "mean_stage": "mean_stage",
                               "fgo_kept": "fgo_kept_share"}
#: Other spellings accepted per quantity (TRL-style slashes, short names), first match wins.
METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "reward": ("reward_mean", "reward", "rewards/mean", "train/reward_mean", "reward/mean"),
    "pass_rate": ("pass_rate", "verdicts/passed", "train/pass_rate"),
    "mean_stage": ("mean_stage", "curriculum/mean_stage", "cccs/mean_stage", "curriculum_mean_stage"),
    "fgo_kept": ("fgo_kept_share", "fgo/kept_share", "fgo_kept", "mask/kept_share"),
}
_SEED_DIR = re.compile(r"^seed(\d+)$")


def config_name(algo: str, cccs: bool, fgo: bool) -> str:
    """The folder name of an RL run: ``ppo-stepcoder`` for PPO with CCCS and FGO, ``grpo-vanilla``, ..."""
    if algo not in ALGOS:
        raise ValueError(f"algo {algo!r}: expected one of {', '.join(ALGOS)}")
    variant = {(False, False): "vanilla", (False, True): "fgo", (True, False): "cccs", (True, True): "stepcoder"}
    return f"{algo}-{variant[(bool(cccs), bool(fgo))]}"


def runs_root(profile: str) -> Path:
    """``artifacts_dir()/runs/<profile>``: every run of one profile."""
    return artifacts_dir() / "runs" / profile


def run_dir(profile: str, config: str, seed: int) -> Path:
    """The folder of one run (not created); ``config`` must be one of ``CONFIGS``."""
    if config not in CONFIGS:
        raise ValueError(f"run config {config!r}: expected one of {', '.join(CONFIGS)}")
    return runs_root(profile) / config / f"seed{int(seed)}"


@dataclass(frozen=True)
class Run:
    """One finished (or partly finished) run found on disk."""

    config: str
    seed: int
    path: Path
    settings: dict[str, Any] = field(default_factory=dict, compare=False)  # config.json ({} when absent)

    @property
    def label(self) -> str:
        return CONFIGS.get(self.config, self.config)

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def has_model(self) -> bool:
        return (self.model_dir / "config.json").is_file()

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"


def discover_runs(root: str | Path) -> tuple[list[Run], list[str]]:
    """Runs under ``root`` (a ``runs_root``) in table order, and one line per folder that is not a run.

    Unknown config names and seed folders without a model are reported rather than dropped silently.
    """
    root = Path(root)
    runs, problems = [], []
    if not root.is_dir():
        return [], [f"{root}: no runs folder (train first: notebooks 02-05)"]
    order = {name: i for i, name in enumerate(CONFIGS)}
    for config_dir in sorted(root.iterdir(), key=lambda p: (order.get(p.name, len(order)), p.name)):
        if not config_dir.is_dir():
            continue
        if config_dir.name not in CONFIGS:
            problems.append(f"{config_dir}: unknown config name (expected one of {', '.join(CONFIGS)})")
            continue
        for seed_dir in sorted(config_dir.iterdir()):
            m = _SEED_DIR.match(seed_dir.name)
            if not (seed_dir.is_dir() and m):
                problems.append(f"{seed_dir}: not a seed<k> folder")
                continue
            settings: dict[str, Any] = {}
            if (seed_dir / "config.json").is_file():
                try:
                    settings = json.loads((seed_dir / "config.json").read_text(encoding="utf-8"))
                except json.JSONDecodeError as exc:
                    problems.append(f"{seed_dir / 'config.json'}: invalid JSON ({exc.msg})")
            run = Run(config_dir.name, int(m.group(1)), seed_dir, settings)
            if not run.has_model:
                problems.append(f"{seed_dir}: no model/ (unfinished run?)")
            runs.append(run)
    runs.sort(key=lambda r: (order[r.config], r.seed))
    return runs, problems


def read_metrics(path: str | Path) -> pd.DataFrame:
    """``metrics.jsonl`` as a DataFrame (one row per step); a bad line raises naming the file and line."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise TypeError(f"{path}:{lineno}: expected a JSON object per step, got {type(row).__name__}")
            rows.append(row)
    df = pd.DataFrame(rows)
    if "step" not in df.columns:
        df["step"] = range(len(df))
    return df


def load_metrics(runs: Iterable[Run]) -> pd.DataFrame:
    """The metrics of several runs in one long DataFrame with ``config``, ``label`` and ``seed`` columns."""
    frames = []
    for run in runs:
        if run.metrics_path.is_file():
            df = read_metrics(run.metrics_path)
            frames.append(df.assign(config=run.config, label=run.label, seed=run.seed))
    if not frames:
        return pd.DataFrame(columns=["step", "config", "label", "seed"])
    return pd.concat(frames, ignore_index=True)


def metric_column(df: pd.DataFrame, quantity: str) -> str | None:
    """The column of ``df`` holding ``quantity`` (a key of ``METRIC_ALIASES``), None when absent."""
    return next((c for c in METRIC_ALIASES[quantity] if c in df.columns and df[c].notna().any()), None)
