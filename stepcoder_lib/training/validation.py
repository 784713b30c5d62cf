"""Held-out pass@1 against RL step: whether RL improves the model where it does not train, and when.

The training curves (reward, pass rate) are measured on the problems RL trains on; they rise
whether or not the policy gets better at the task. Every ``rl.validation_every`` steps (and at the
last) a run samples ``rl.validation_samples`` whole programs per problem for a fixed, stratified
``rl.validation_problems`` of the validation split, at the evaluation decoding (``profile.eval``),
and writes pass@1 to ``<run>/validation.jsonl``. Step 0 is the SFT model: the same for every run
from that model, so it is measured once and shared (``<runs root>/validation-sft/``). Settings
are chosen on these curves, never on the test split.

    problems = validation_set(profile)                     # fixed: same problems for every run
    row = validate(policy, tokenizer, problems, profile, executor, step=10)
    frame = read_validation(run_dirs)                      # one row per (run, step), with algo/setting/seed
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stepcoder_lib.data.prepare import cap_stratified, load_splits
from stepcoder_lib.models.calibration import pass_at_1

#: One JSON row per evaluation of a run's policy.
VALIDATION_FILE = "validation.jsonl"


def validation_set(profile: Any) -> list[Any]:
    """The fixed validation problems a run is measured on: ``rl.validation_problems`` of the split, stratified."""
    return cap_stratified(load_splits(profile, progress=False)["validation"], profile.rl.validation_problems)


def validate(model: Any, tokenizer: Any, problems: Sequence[Any], profile: Any, executor: Any, step: int
             ) -> dict[str, Any]:
    """pass@1 of ``model`` on ``problems`` (overall and per difficulty) at the evaluation decoding and seed."""
    t0 = time.perf_counter()
    was_training = model.training
    model.eval()
    table, _ = pass_at_1(model, tokenizer, list(problems), profile, n_samples=profile.rl.validation_samples,
                         seed=profile.eval.seed, batch_size=profile.eval.batch_size, executor=executor)
    model.train(was_training)
    row: dict[str, Any] = {"step": step, "pass@1": float(table.loc["overall", "pass@1"])}
    row.update({f"pass@1/{d}": float(table.loc[d, "pass@1"]) for d in table.index if d != "overall"})
    row.update({"problems": len(problems), "samples": profile.rl.validation_samples,
                "seconds": round(time.perf_counter() - t0, 2)})
    return row


def sft_validation(model: Any, tokenizer: Any, problems: Sequence[Any], profile: Any, executor: Any,
                   sft_identity: str, runs_root: Path) -> dict[str, Any]:
    """Step 0 (the SFT model before any update), measured once per SFT model and validation settings."""
    key = json.dumps({"sft": sft_identity, "problems": [p.id for p in problems],
                      "samples": profile.rl.validation_samples, "eval": [profile.eval.temperature, profile.eval.top_p,
                      profile.eval.max_new_tokens, profile.eval.seed, profile.eval.batch_size],
                      "time_limit_s": profile.executor.time_limit_s}, sort_keys=True)
    path = runs_root / "validation-sft" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if path.is_file():
        return dict(json.loads(path.read_text()))
    row = validate(model, tokenizer, problems, profile, executor, step=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, sort_keys=True) + "\n")
    tmp.replace(path)  # atomic: a run that stops midway leaves no half-written file
    return row


def due(step: int, every: int, last: int) -> bool:
    """Whether step ``step`` is measured: every ``every`` steps and the last (0: never)."""
    return every > 0 and (step % every == 0 or step == last)


class ValidationLog:
    """``<run>/validation.jsonl``: rows past a resumed run's checkpoint are dropped (they are redone)."""

    def __init__(self, run_dir: Path, start_step: int, enabled: bool = True) -> None:
        self.path = Path(run_dir) / VALIDATION_FILE
        self.enabled = enabled
        if enabled and self.path.exists():
            rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
            self.path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows
                                         if r["step"] <= start_step))

    def steps(self) -> set[int]:
        if not self.path.exists():
            return set()
        return {json.loads(line)["step"] for line in self.path.read_text().splitlines() if line.strip()}

    def write(self, row: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(row, sort_keys=True) + "\n")


def read_validation(run_dirs: Sequence[str | Path]) -> Any:
    """Every validation row of every run, with the run's algo, setting and seed (empty when none has any)."""
    import pandas as pd  # lazy: training imports this module, and needs no pandas
    parts = []
    for run in run_dirs:
        path = Path(run) / VALIDATION_FILE
        if not path.is_file():
            continue
        cfg = json.loads((Path(run) / "config.json").read_text())
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        frame = pd.DataFrame(rows)
        frame.insert(0, "seed", cfg["seed"])
        frame.insert(0, "setting", cfg["setting"])
        frame.insert(0, "algo", cfg["algo"])
        frame.insert(0, "run", str(run))
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["run", "algo", "setting", "seed", "step", "pass@1"])
    out = pd.concat(parts, ignore_index=True).sort_values(["algo", "setting", "seed", "step"], ignore_index=True)
    out["label"] = out["algo"].str.upper() + " " + out["setting"]
    return out


def plot_validation(frame: Any, title: str = "held-out pass@1 during RL") -> Any:
    """pass@1 (validation) against RL step: one line per setting (mean over seeds, band = min..max), and the
    SFT model's level as a dashed line: a curve under it means RL made the model worse there."""
    import matplotlib.pyplot as plt  # lazy: importing this module needs no matplotlib

    fig, ax = plt.subplots(figsize=(7.5, 4))
    sft = frame.loc[frame["step"] == 0, "pass@1"]
    for label, g in frame.groupby("label"):
        per_step = g.groupby("step")["pass@1"].agg(["mean", "min", "max"]).reset_index()
        line, = ax.plot(per_step["step"], 100 * per_step["mean"], marker="o", label=label)
        ax.fill_between(per_step["step"], 100 * per_step["min"], 100 * per_step["max"], color=line.get_color(),
                        alpha=0.15)
    if len(sft):
        ax.axhline(100 * float(sft.iloc[0]), color="black", linestyle="--", linewidth=1, label="SFT")
    n = frame[["problems", "samples"]].iloc[0] if len(frame) else None
    detail = f" ({int(n['problems'])} problems x {int(n['samples'])} samples)" if n is not None else ""
    ax.set(xlabel="RL step", ylabel="validation pass@1 (%)", title=title + detail)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig
