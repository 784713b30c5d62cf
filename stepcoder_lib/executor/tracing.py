"""Line coverage of the program under test, with coverage.py's C tracer.

Why not ``coverage.Coverage().start()``: building a ``Coverage`` object costs ~15 ms per
process, ten times the cost of running a typical test, and we start one process per test.
coverage.py's ``CTracer`` itself is the same C line tracer ``Coverage`` uses; here we drive it
directly, tracing only the program's own file. If the C tracer is unavailable (a pure-Python
coverage build), a ``sys.settrace`` tracer records the same line events, only slower.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

try:  # coverage.py ships the compiled tracer on every major platform
    from coverage.tracer import CFileDisposition, CTracer
except ImportError:  # pragma: no cover - exercised only on builds without the C extension
    CTracer = None  # type: ignore[assignment,misc]


class LineTracer:
    """Records the executed line numbers of code objects whose ``co_filename`` is ``filename``."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self._tracer: Any = None
        self._lines: set[int] = set()

    def start(self) -> None:
        if CTracer is not None:
            self._tracer = _start_ctracer(self.filename)
        else:
            sys.settrace(self._global_trace)

    def stop(self) -> set[int]:
        """Stop tracing and return the executed lines (1-based)."""
        if self._tracer is not None:
            self._tracer.stop()
            sys.settrace(None)
            data = self._tracer.data.get(self.filename, ())
            return {int(n) for n in data if n > 0}
        sys.settrace(None)
        return set(self._lines)

    # pure-Python fallback --------------------------------------------------------------
    def _global_trace(self, frame: Any, event: str, arg: Any) -> Callable | None:
        if frame.f_code.co_filename != self.filename:
            return None
        return self._local_trace

    def _local_trace(self, frame: Any, event: str, arg: Any) -> Callable | None:
        if event == "line":
            self._lines.add(frame.f_lineno)
        return self._local_trace


def _disposition(filename: str, trace: bool) -> Any:
    d = CFileDisposition()
    d.original_filename = filename
    d.canonical_filename = filename
    d.source_filename = filename if trace else None
    d.trace = trace
    d.reason = "" if trace else "not the program under test"
    d.file_tracer = None
    d.has_dynamic_filename = False
    return d


def _start_ctracer(filename: str) -> Any:
    tracer = CTracer()
    tracer.data = {}
    tracer.lock_data = _noop
    tracer.unlock_data = _noop
    tracer.trace_arcs = False
    tracer.should_trace = lambda fname, frame: _disposition(fname, fname == filename)
    tracer.should_trace_cache = {}
    tracer.warn = _noop
    for attr in ("concur_id_func", "check_include", "should_start_context", "switch_context", "disable_plugin"):
        if hasattr(tracer, attr):
            setattr(tracer, attr, None)
    if hasattr(tracer, "file_tracers"):
        tracer.file_tracers = {}
    tracer.start()
    return tracer


def _noop(*args: Any, **kwargs: Any) -> None:
    return None
