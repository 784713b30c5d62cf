"""Per-step logging of an RL run: ``metrics.jsonl``, TensorBoard events, and a progress bar with the running reward.

One JSON object per step (``{"step": k, "reward_mean": ..., ...}``) is the record notebooks and
the results table read (``read_metrics`` gives a pandas DataFrame); TensorBoard gets the same
scalars under ``<run>/tb``. On resume from step k, lines after k are dropped and TensorBoard
events after k purged, so a resumed run's log equals an uninterrupted one's.

Progress: inside a Jupyter kernel (a notebook, or papermill running one) the bar is drawn twice,
as a widget in the notebook and as plain text on the terminal that ran papermill
(``progress.terminal_bar``); elsewhere (the CLI, tests) once, on stderr.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stepcoder_lib.settings.progress import terminal_bar

METRICS_FILE = "metrics.jsonl"


def _clean(value: Any) -> Any:
    """JSON-safe: floats that are not finite become None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_metrics(run_dir: str | Path) -> Any:
    """A run's ``metrics.jsonl`` as a pandas DataFrame indexed by step (the last line wins for a repeated step)."""
    import pandas as pd  # lazy: importing this module needs no pandas

    path = Path(run_dir) / METRICS_FILE
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).drop_duplicates("step", keep="last").set_index("step").sort_index()


def truncate_metrics(run_dir: str | Path, last_step: int) -> int:
    """Drop the lines of steps after ``last_step`` (work lost when a run was killed); returns lines kept."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return 0
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= last_step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return len(kept)


class RunLog:
    """Writes each step's metrics (only on the main process: pass ``enabled=False`` on the others)."""

    def __init__(self, run_dir: str | Path, total_steps: int, start_step: int = 0, desc: str = "RL",
                 enabled: bool = True, tensorboard: bool = True, progress: bool = True) -> None:
        self.run_dir, self.enabled = Path(run_dir), enabled
        self.writer = None
        self.bars: list[Any] = []
        self._reward_ema: float | None = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        truncate_metrics(self.run_dir, start_step)
        if tensorboard:
            from torch.utils.tensorboard import (
                SummaryWriter,  # lazy: importing this module needs no torch
            )

            self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=start_step + 1 if start_step else None)
        if progress:
            from tqdm.auto import tqdm  # lazy: a run without bars never loads tqdm

            self.bars.append(tqdm(total=total_steps, initial=start_step, desc=desc, unit="step", dynamic_ncols=True))
            terminal = terminal_bar(total_steps, desc, unit="step")  # None outside a Jupyter kernel
            if terminal is not None:
                terminal.update(start_step)
                self.bars.append(terminal)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Record step ``step`` (1-based: the number of steps completed)."""
        if not self.enabled:
            return
        row = {"step": step, **{k: _clean(v) for k, v in sorted(metrics.items())}}
        with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, sort_keys=False) + "\n")
        if self.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(float(v)):
                    self.writer.add_scalar(k, float(v), step)
            self.writer.flush()
        reward = metrics.get("reward_mean")
        if reward is not None:
            self._reward_ema = reward if self._reward_ema is None else 0.8 * self._reward_ema + 0.2 * reward
        post = {"reward": f"{self._reward_ema:+.3f}" if self._reward_ema is not None else "-",
                "pass": f"{metrics.get('pass_rate', float('nan')):.2f}"}
        if "stage_mean" in metrics:
            post["stage"] = f"{metrics['stage_mean']:.2f}"
        for bar in self.bars:
            bar.set_postfix(post, refresh=False)
            bar.update(1)

    def close(self) -> None:
        for bar in self.bars:
            bar.close()
        self.bars = []
        if self.writer is not None:
            self.writer.close()
            self.writer = None
