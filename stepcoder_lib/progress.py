"""Progress that reaches the terminal when papermill runs a notebook, not only the executed notebook.

Inside a Jupyter kernel ``sys.stderr`` is captured into the notebook's output, while
``sys.__stderr__`` is the kernel process's own stderr, which papermill's terminal inherits. Long
steps (pretraining, SFT, sampling) therefore draw a plain-text bar there as well as their usual
bar in the notebook. Outside a kernel there is one terminal already, and nothing is added.
"""

from __future__ import annotations

import sys
from typing import Any

from transformers import TrainerCallback


def in_kernel() -> bool:
    """Whether this code runs inside a Jupyter kernel whose stderr is captured (papermill, JupyterLab)."""
    return "ipykernel" in sys.modules and sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None


def terminal_bar(total: int, desc: str, unit: str = "it") -> Any:
    """A tqdm bar on the kernel's own stderr (the terminal running papermill), or None outside a kernel."""
    if not in_kernel():
        return None
    from tqdm.std import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.__stderr__, mininterval=5.0, dynamic_ncols=False,
                ncols=100)


class TerminalProgressCallback(TrainerCallback):
    """A ``transformers`` Trainer callback mirroring training progress (and the running loss) to the terminal."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.bar = terminal_bar(state.max_steps, self.desc, unit="step")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}", refresh=False)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
