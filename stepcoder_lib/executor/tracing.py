"""Line coverage of the program under test, with coverage.py's C tracer.

Why not ``coverage.Coverage().start()``: building a ``Coverage`` object costs ~15 ms per
process, ten times the cost of running a typical test, and we start one process per test.
coverage.py's ``CTracer`` itself is the same C line tracer ``Coverage`` uses; here we drive it
directly, tracing only the program's own file. If the C tracer is unavailable (a pure-Python
coverage build), a ``sys.settrace`` tracer records the same line events, only slower.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable



def _load_ctracer() -> Any:
    """coverage.py's compiled tracer module, loaded without importing the ``coverage`` package.

    The package pulls in ~13 MB of modules; every sandbox worker forks one process per test,
    and fork cost grows with the worker's memory (2.0 ms vs 0.8 ms per fork here).
    """
    import importlib.machinery
    import importlib.util

    if "coverage.tracer" in sys.modules:
        return sys.modules["coverage.tracer"]
    spec = importlib.util.find_spec("coverage")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("coverage is not installed")
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "tracer" + suffix)
            if os.path.exists(path):
                loader = importlib.machinery.ExtensionFileLoader("coverage.tracer", path)
                module = importlib.util.module_from_spec(importlib.util.spec_from_loader("coverage.tracer", loader))
                loader.exec_module(module)
                return module
    raise ImportError("coverage.py's C tracer is not built for this platform")


try:  # coverage.py ships the compiled tracer on every major platform
    _ctracer = _load_ctracer()
    CTracer, CFileDisposition = _ctracer.CTracer, _ctracer.CFileDisposition
except ImportError:  # pragma: no cover - exercised only on builds without the C extension
    CTracer = None  # type: ignore[assignment,misc]


class LineTracer:
    """Records the executed line numbers of code objects whose ``co_filename`` is ``filename``."""

    def __init__(self, filename: str, known_files: dict[str, Any] | None = None) -> None:
        self.filename = filename
        self.known_files = known_files  # see untraced_dispositions()
        self._tracer: Any = None
        self._lines: set[int] = set()

    def start(self) -> None:
        if CTracer is not None:
            self._tracer = _start_ctracer(self.filename, self.known_files)
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


def untraced_dispositions() -> dict[str, Any]:
    """"Do not trace" decisions for every module already loaded, computed once per worker.

    The tracer asks ``should_trace`` (a Python callback) the first time it meets each file; a
    test process that starts with these answers cached skips dozens of those calls.
    """
    if CTracer is None:
        return {}
    names = {"<string>", "<test>", "<setup>", "<prelude>"}
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None)
        if isinstance(f, str):
            names.add(f)
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "origin", None) == "frozen":
            names.add(f"<frozen {spec.name}>")
    return {n: _disposition(n, False) for n in names}


def _start_ctracer(filename: str, known: dict[str, Any] | None = None) -> Any:
    tracer = CTracer()
    tracer.data = {}
    tracer.lock_data = _noop
    tracer.unlock_data = _noop
    tracer.trace_arcs = False
    tracer.should_trace = lambda fname, frame: _disposition(fname, fname == filename)
    tracer.should_trace_cache = {k: v for k, v in (known or {}).items() if k != filename}
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
