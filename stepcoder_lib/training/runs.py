"""Where training runs live and how the results notebook finds them: the run registry.

Every trained model of the ablation is one *run*, in one folder under ``runs_root(profile)`` =
``artifacts_dir()/runs/<profile>/``, in either of two layouts::

    <config>/seed<k>/                     the plain layout (``run_dir``)
    <algo>-<setting>-seed<k>-<key>/       the trainer's keyed layout (``stepcoder_lib.training.train``): one folder
                                          per hash of everything the run depends on, ``done.json`` when finished
        config.json      the effective configuration (profiles.save_effective_config), plus run settings
        metrics.jsonl    one JSON object per optimisation step (keys below)
        model/ or policy/   the final policy, save_pretrained format (weights + config + tokenizer)

``<config>`` names one row of the paper's ablation table (``CONFIGS``): ``base`` (optional: when it
is absent the results notebook evaluates the profile's base model), ``sft`` (optional: else the
profile's SFT baseline), and per RL algorithm ``<algo>-vanilla`` / ``-fgo`` / ``-cccs`` /
``-stepcoder`` (``config_name`` builds them). When keyed folders hold the same config and seed more
than once (runs of an older profile or library), the most recently finished one counts and the
others are reported as superseded.

``metrics.jsonl`` keys the figures read (``METRIC_KEYS``; any other keys are kept and ignored):
``step`` (int, from 0 or 1), ``reward_mean`` (mean rollout reward), ``pass_rate`` (share of rollouts
that passed), ``stage_mean`` (mean CCCS stage over the training problems; absent without CCCS),
``fgo_kept_share`` (share of completion tokens FGO keeps in the loss; absent without FGO).
A few other spellings of each are accepted too (``METRIC_ALIASES``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stepcoder_lib.settings.paths import artifacts_dir

#: Row label of every config, in the paper's table order (base model, SFT, then the RL ablation).
ALGOS: tuple[str, ...] = ("ppo", "grpo")
_VARIANTS: dict[str, str] = {"vanilla": "vanilla RL", "fgo": "FGO only", "cccs": "CCCS only", "stepcoder": "StepCoder"}
CONFIGS: dict[str, str] = {
    "base": "base model",
    "sft": "SFT",
    **{f"{algo}-{v}": f"{label} ({algo.upper()})" for algo in ALGOS for v, label in _VARIANTS.items()},
}
METRIC_KEYS: dict[str, str] = {"reward": "reward_mean", "pass_rate": "pass_rate", "mean_stage": "stage_mean",
                               "fgo_kept": "fgo_kept_share"}
#: Other spellings accepted per quantity (TRL-style slashes, short names), first match wins.
METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "reward": ("reward_mean", "reward", "rewards/mean", "train/reward_mean", "reward/mean"),
    "pass_rate": ("pass_rate", "verdicts/passed", "train/pass_rate"),
    "mean_stage": ("stage_mean", "mean_stage", "curriculum/mean_stage", "cccs/mean_stage", "curriculum_mean_stage"),
    "fgo_kept": ("fgo_kept_share", "fgo/kept_share", "fgo_kept", "mask/kept_share"),
}
_SEED_DIR = re.compile(r"^seed(\d+)$")
_KEYED_DIR = re.compile(rf"^(?P<config>(?:{'|'.join(ALGOS)})-(?:{'|'.join(_VARIANTS)}))-seed(?P<seed>\d+)"
                        r"(?:-(?P<key>[0-9a-zA-Z]+))?$")
_MODEL_DIRS: tuple[str, ...] = ("model", "policy")


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
        """``model/`` (plain layout) or ``policy/`` (the trainer's), whichever holds a model."""
        for name in _MODEL_DIRS:
            if (self.path / name / "config.json").is_file():
                return self.path / name
        return self.path / _MODEL_DIRS[0]

    @property
    def has_model(self) -> bool:
        return (self.model_dir / "config.json").is_file()

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"


def _settings(folder: Path, problems: list[str]) -> dict[str, Any]:
    if not (folder / "config.json").is_file():
        return {}
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(f"{folder / 'config.json'}: invalid JSON ({exc.msg})")
        return {}


def discover_runs(root: str | Path) -> tuple[list[Run], list[str]]:
    """Runs under ``root`` (a ``runs_root``) in table order, and one line per folder left out, saying why.

    Unknown folder names, runs without a model and superseded keyed runs are reported, never dropped silently.
    """
    root = Path(root)
    runs: list[Run] = []
    problems: list[str] = []
    if not root.is_dir():
        return [], [f"{root}: no runs folder (train first: notebooks 02-05)"]
    keyed: dict[tuple[str, int], list[Run]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        m = _KEYED_DIR.match(folder.name)
        if m:
            keyed.setdefault((m["config"], int(m["seed"])), []).append(
                Run(m["config"], int(m["seed"]), folder, _settings(folder, problems)))
            continue
        if folder.name not in CONFIGS:
            problems.append(f"{folder}: unknown config name (expected one of {', '.join(CONFIGS)}, or "
                            f"<algo>-<setting>-seed<k>-<key>)")
            continue
        for seed_dir in sorted(folder.iterdir()):
            m = _SEED_DIR.match(seed_dir.name)
            if not (seed_dir.is_dir() and m):
                problems.append(f"{seed_dir}: not a seed<k> folder")
                continue
            runs.append(Run(folder.name, int(m.group(1)), seed_dir, _settings(seed_dir, problems)))
    for (config, seed), group in keyed.items():
        finished = [r for r in group if (r.path / "done.json").is_file() and r.has_model]
        if not finished:
            problems += [f"{r.path}: unfinished (no done.json with a model): not evaluated" for r in group]
            continue
        finished.sort(key=lambda r: (r.path / "done.json").stat().st_mtime_ns)
        winner = finished[-1]
        problems += [f"{r.path}: superseded by {winner.path.name} (same config and seed, finished later)"
                     for r in group if r is not winner]
        problems += [f"{r.path}: superseded by {winner.path.name} (the trainer's finished run of the same config "
                     f"and seed)" for r in runs if (r.config, r.seed) == (config, seed)]
        runs = [r for r in runs if (r.config, r.seed) != (config, seed)] + [winner]
    for run in runs:
        if not run.has_model:
            problems.append(f"{run.path}: no {' or '.join(_MODEL_DIRS)}/ with a model (unfinished run?)")
    order = {name: i for i, name in enumerate(CONFIGS)}
    runs.sort(key=lambda r: (order[r.config], r.seed, str(r.path)))
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
