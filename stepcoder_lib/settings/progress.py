"""The project's one progress bar: a widget in a notebook, text in a terminal, and both under papermill.

Why not plain ``tqdm.auto``: when papermill runs a notebook, the kernel's widget bar lands in the
executed notebook only, and the person who typed ``make reproduce`` sees nothing move for minutes.
Inside a Jupyter kernel ``sys.stderr`` is captured into the notebook, while ``sys.__stderr__`` is
the kernel process's own stderr, which papermill's terminal inherits: a bar made here draws there
too (``STEPCODER_TERMINAL_PROGRESS=0`` turns that off, e.g. for a JupyterLab server's log).
Outside a kernel there is one terminal already, and nothing is added.

One bar per place: in the kernel the notebook gets ``tqdm.auto``'s widget and the terminal gets the
mirror, never both on the same stream. The mirror is a live tqdm bar when that stream is a terminal,
and plain lines (``LineBar``: one line per update, no carriage returns, no cursor movement) when it
is a log file or a pipe, so ``make reproduce > log`` reads line by line.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, TypeVar

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
        mirror = terminal_bar(total, desc, unit, **kwargs)
        if mirror is None:
            from tqdm.auto import tqdm as auto_tqdm  # lazy: a run without bars never loads tqdm

            self._bars.append(auto_tqdm(total=total, desc=desc, unit=unit, **kwargs))
            return
        self._bars.append(mirror)
        from tqdm.notebook import tqdm as notebook_tqdm  # lazy: a run without bars never loads tqdm

        # The notebook's copy as a widget (a text copy would be streamed to the same terminal again); without
        # ipywidgets (ImportError) the terminal's bar is the only one.
        with contextlib.suppress(ImportError):
            self._bars.append(notebook_tqdm(total=total, desc=desc, unit=unit, **kwargs))

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


@functools.cache
def _text_on_fd(fd: int) -> IO[str]:
    return open(fd, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")


def kernel_terminal() -> IO[str]:
    """The kernel process's terminal, bypassing ipykernel's capture of file descriptor 2.

    ipykernel redirects fd 2 (``sys.__stderr__``) into a pipe, forwards it to the notebook and echoes it to the
    terminal; papermill then streams the notebook's copy to the same terminal, so every line arrived twice.
    ``sys.stderr.fileno()`` is ipykernel's saved copy of the original fd: writing there reaches the terminal only.
    """
    try:
        return _text_on_fd(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError: no fd capture
        stream = sys.__stderr__
        assert stream is not None  # in_kernel() checked it
        return stream


_open_terminal_bars: list[Any] = []  # live terminal bars in this process: each new one takes the next line


def terminal_bar(total: int | None, desc: str, unit: str = "it", **kwargs: Any) -> Any:
    """A bar on the kernel's own stderr (the terminal running papermill), or None outside a kernel.

    A live tqdm bar when that stderr is a terminal; ``LineBar`` lines when it is a file or a pipe.
    """
    if not in_kernel() or os.environ.get(TERMINAL_ENV) == "0":
        return None
    stream = kernel_terminal()
    if not stream.isatty():
        return LineBar(total, desc, unit, stream)
    from tqdm.std import tqdm  # lazy: a run without bars never loads tqdm

    class TerminalBar(tqdm):  # type: ignore[misc]
        """tqdm placed below this process's other terminal bars only (the notebook's widgets take no line)."""

        def close(self) -> None:
            if self in _open_terminal_bars:
                _open_terminal_bars.remove(self)
            super().close()

    bar = TerminalBar(total=total, desc=desc, unit=unit, file=stream, mininterval=2.0, ascii=True,
                      dynamic_ncols=False, ncols=100, position=len(_open_terminal_bars),
                      **{k: v for k, v in kwargs.items() if k != "position"})
    _open_terminal_bars.append(bar)
    return bar


class LineBar:
    """Progress for a log file: one whole line per shown update, at most one per ``interval`` seconds, and
    the final count at ``close``. Written here because tqdm always redraws with carriage returns (and moves
    the cursor for nested bars); its ``format_meter`` still formats each line."""

    def __init__(self, total: int | None, desc: str, unit: str, stream: IO[str], interval: float = 10.0) -> None:
        self.total, self.desc, self.unit, self.stream, self.interval = total, desc, unit, stream, interval
        self.n = 0
        self.postfix = ""
        self.start = time.monotonic()
        self.shown: tuple[Any, ...] | None = None  # (count, description, postfix) of the last line written
        self.last_time = -float("inf")
        self.closed = False

    def _line(self) -> str:
        from tqdm.std import tqdm  # lazy: a run without bars never loads tqdm

        return tqdm.format_meter(self.n, self.total, time.monotonic() - self.start, ncols=0, prefix=self.desc,
                                 unit=self.unit, postfix=self.postfix or None, ascii=True)

    def _emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_time < self.interval:
            return
        state = (self.n, self.desc, self.postfix)
        if state != self.shown:  # a line saying nothing new is not written
            self.stream.write(self._line() + "\n")
            self.stream.flush()
            self.shown = state
        self.last_time = now

    def update(self, n: int = 1) -> None:
        self.n += n
        self._emit(force=self.total is not None and self.n >= self.total)

    def set_postfix(self, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **values: Any) -> None:
        """tqdm's signature; the values show on the next line written."""
        self.postfix = ", ".join(f"{k}={v}" for k, v in {**(ordered_dict or {}), **values}.items())

    def set_description(self, desc: str, refresh: bool = False) -> None:
        self.desc = desc

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._emit(force=True)


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
