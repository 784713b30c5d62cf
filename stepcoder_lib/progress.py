"""The project's one progress bar: a widget in a notebook, text in a terminal, and both under papermill.

Why not plain ``tqdm.auto``: when papermill runs a notebook, the kernel's widget bar lands in the
executed notebook only, and the person who typed ``make reproduce`` sees nothing move for minutes.
``stepcoder_lib.reproduce`` sets ``STEPCODER_TERMINAL_PROGRESS=1`` for the kernels it starts; a
bar made here then also draws on the kernel's own stderr, which is papermill's terminal.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Iterator, TypeVar

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
