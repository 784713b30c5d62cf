"""The project's one progress bar: a widget in a notebook, text in a terminal, and both under papermill.

Why not plain ``tqdm.auto``: when papermill runs a notebook, the kernel's widget bar lands in the
executed notebook only, and the person who typed ``make reproduce`` sees nothing move for minutes.
``stepcoder_lib.reproduce`` sets ``STEPCODER_TERMINAL_PROGRESS=1`` for the kernels it starts; a
bar made here then also draws on the kernel's own stderr, which is papermill's terminal.

``terminal_bar`` / ``TerminalProgressCallback`` (pretraining, SFT, RL runs) draw the terminal copy
whenever the code runs inside a kernel whose stderr is captured, whoever started it.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Iterator, TypeVar

from transformers import TrainerCallback

T = TypeVar("T")
TERMINAL_ENV = "STEPCODER_TERMINAL_PROGRESS"


class Progress:
    """A tqdm-like bar (``update``, ``set_postfix``, ``close``, iteration) drawn in every place someone looks."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", enabled: bool = True, **kwargs: Any) -> None:
        self._iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total = total
        self._bars: list[Any] = []
        if not enabled:
            return
        from tqdm.auto import tqdm as auto_tqdm

        self._bars.append(auto_tqdm(total=total, desc=desc, unit=unit, **kwargs))
        if os.environ.get(TERMINAL_ENV) == "1" and _in_kernel() and sys.__stderr__ is not None:
            from tqdm.std import tqdm as text_tqdm

            self._bars.append(text_tqdm(total=total, desc=desc, unit=unit, file=sys.__stderr__, mininterval=2.0,
                                        ascii=True, dynamic_ncols=False, ncols=100, **kwargs))

    def update(self, n: int = 1) -> None:
        for bar in self._bars:
            bar.update(n)

    def set_postfix(self, **values: Any) -> None:
        for bar in self._bars:
            bar.set_postfix(**values, refresh=False)

    def set_description(self, desc: str) -> None:
        for bar in self._bars:
            bar.set_description(desc, refresh=False)

    def close(self) -> None:
        for bar in self._bars:
            bar.close()

    def __iter__(self) -> Iterator[Any]:
        if self._iterable is None:
            raise TypeError("Progress made without an iterable cannot be iterated")
        try:
            for item in self._iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (whose sys.stderr is the notebook, not the terminal)."""
    return "ipykernel" in sys.modules


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> Progress:
    """``Progress(iterable, total=..., desc=..., unit=..., enabled=...)``: see the module docstring."""
    return Progress(iterable, **kwargs)


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
