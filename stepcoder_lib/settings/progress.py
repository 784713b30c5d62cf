"""The project's one progress bar: a widget in a notebook, text in a terminal, and both under papermill.

Why not plain ``tqdm.auto``: when papermill runs a notebook, the kernel's widget bar lands in the
executed notebook only, and the person who typed ``make reproduce`` sees nothing move for minutes.
Inside a Jupyter kernel ``sys.stderr`` is captured into the notebook, while ``sys.__stderr__`` is
the kernel process's own stderr, which papermill's terminal inherits: a bar made here draws there
too (``STEPCODER_TERMINAL_PROGRESS=0`` turns that off, e.g. for a JupyterLab server's log).
Outside a kernel there is one terminal already, and nothing is added.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

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
        from tqdm.auto import tqdm as auto_tqdm  # lazy: a run without bars never loads tqdm

        self._bars.append(auto_tqdm(total=total, desc=desc, unit=unit, **kwargs))
        mirror = terminal_bar(total, desc, unit, **kwargs)
        if mirror is not None:
            self._bars.append(mirror)

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

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def in_kernel() -> bool:
    """Whether this code runs inside a Jupyter kernel whose stderr is captured (papermill, JupyterLab)."""
    return "ipykernel" in sys.modules and sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None


def terminal_bar(total: int | None, desc: str, unit: str = "it", **kwargs: Any) -> Any:
    """A text bar on the kernel's own stderr (the terminal running papermill), or None outside a kernel."""
    if not in_kernel() or os.environ.get(TERMINAL_ENV) == "0":
        return None
    from tqdm.std import tqdm  # lazy: a run without bars never loads tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.__stderr__, mininterval=2.0, ascii=True,
                dynamic_ncols=False, ncols=100, **kwargs)


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> Progress:
    """``Progress(iterable, total=..., desc=..., unit=..., enabled=...)``: see the module docstring."""
    return Progress(iterable, **kwargs)


@functools.cache
def _progress_bar_callback() -> type:
    """``ProgressBarCallback``, built on first use so that importing this module never imports transformers."""
    from transformers import TrainerCallback  # lazy: importing this module needs no transformers

    class ProgressBarCallback(TrainerCallback):
        """A ``transformers`` Trainer callback drawing one ``Progress`` bar (steps, running loss)."""

        def __init__(self, desc: str) -> None:
            self.desc = desc
            self.bar: Progress | None = None
            self.done = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.bar = Progress(total=state.max_steps, desc=self.desc, unit="step",
                                enabled=state.is_world_process_zero)
            self.done = state.global_step

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.update(state.global_step - self.done)
                self.done = state.global_step

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kwargs: Any) -> None:
            if self.bar is not None and logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return ProgressBarCallback


def use_progress_bar(trainer: Any, desc: str, enabled: bool = True) -> Any:
    """Give a ``transformers`` Trainer this module's bar in place of its own progress callbacks; returns it.

    In a notebook the Trainer's ``NotebookProgressCallback`` re-renders an HTML table of every
    logged step at each log: with ``logging_steps=1`` that is quadratic in the steps and made SFT
    ~20% slower under papermill than in a terminal. Its ``PrinterCallback`` (``disable_tqdm``) prints
    every log instead. One ``Progress`` bar replaces both, in the notebook and the terminal alike.
    """
    from transformers.trainer_callback import (  # lazy: importing this module needs no transformers
        PrinterCallback,
        ProgressCallback,
    )
    from transformers.utils.notebook import (
        NotebookProgressCallback,  # lazy: importing this module needs no transformers
    )

    for callback in (ProgressCallback, NotebookProgressCallback, PrinterCallback):
        trainer.remove_callback(callback)
    if enabled:
        trainer.add_callback(_progress_bar_callback()(desc))
    return trainer


def __getattr__(name: str) -> Any:
    if name == "ProgressBarCallback":
        return _progress_bar_callback()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
