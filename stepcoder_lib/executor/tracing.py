"""Line coverage of the program under test that stops costing anything once a line has run.

FGO needs only whether each line ran at least once. A line tracer (``sys.settrace``, coverage.py's
C tracer) pays a callback on every line event, which tripled the CPU time of loop-heavy programs.
slipcover's probes, inserted into the program's bytecode, record a line on its first execution
and then patch themselves into a jump ("immediate" mode): a loop pays one jump per line.

Only ``slipcover.bytecode`` (its bytecode editor) and ``slipcover.probe`` (the C probes) are
used, loaded from their files without the package's ``__init__``: that imports reporting modules
(and ``threading``, ``tempfile``) that every forked test would pay for.
The instrumentation below follows ``Slipcover.instrument`` for Python 3.11 (lines, no branches).
On interpreters slipcover does not cover this way (3.12+ has ``sys.monitoring``) or without it,
a ``sys.settrace`` tracer records the same lines, only slower.
"""

from __future__ import annotations

import dis
import os
import sys
import types
from collections import defaultdict
from collections.abc import Callable
from typing import Any


def _load_slipcover_parts() -> tuple[Any, Any]:
    """slipcover's bytecode editor and C probes, without running ``slipcover/__init__.py``."""
    import importlib.machinery
    import importlib.util

    if sys.version_info[:2] != (3, 11):
        raise ImportError("the bytecode probes are used on Python 3.11 only")
    spec = importlib.util.find_spec("slipcover")  # locates the package; does not import it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("slipcover is not installed")
    folder = list(spec.submodule_search_locations)[0]
    loaded = []
    for name, loader_cls, suffixes in (("bytecode", importlib.machinery.SourceFileLoader, [".py"]),
                                       ("probe", importlib.machinery.ExtensionFileLoader,
                                        importlib.machinery.EXTENSION_SUFFIXES)):
        path = next((os.path.join(folder, name + sfx) for sfx in suffixes
                     if os.path.exists(os.path.join(folder, name + sfx))), None)
        if path is None:
            raise ImportError(f"slipcover.{name} not found")
        full = f"slipcover.{name}"
        loader = loader_cls(full, path)
        module_spec = importlib.util.spec_from_loader(full, loader)
        if module_spec is None:
            raise ImportError(f"slipcover.{name} cannot be loaded")
        module = importlib.util.module_from_spec(module_spec)
        loader.exec_module(module)
        loaded.append(module)
    return loaded[0], loaded[1]


try:
    _bc, _probe = _load_slipcover_parts()
except ImportError:  # pragma: no cover - exercised only without slipcover
    _bc = _probe = None

_SKIPPED_OPS = {dis.opmap[name] for name in ("RESUME", "RETURN_GENERATOR") if name in dis.opmap}


class LineTracer:
    """Records the executed 1-based line numbers of one program's code."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.newly_seen: dict[str, set[int]] = defaultdict(set)  # written by slipcover's probes
        self._lines: set[int] = set()
        self._probes = _probe is not None
        self._instrumented = False

    def instrument(self, code: types.CodeType) -> types.CodeType:
        """The program's code with a probe at the start of every line (recursively)."""
        if not self._probes:
            return code
        try:
            code = self._instrument(code)
            self._instrumented = True
            return code
        except Exception:  # an unusual code shape: fall back to tracing this process
            self._probes = False
            return code

    def _instrument(self, co: types.CodeType) -> types.CodeType:
        ed = _bc.Editor(co)
        for i, c in enumerate(co.co_consts):
            if isinstance(c, types.CodeType):
                ed.set_const(i, self._instrument(c))
        signal_index = ed.add_const(_probe.signal)
        probes = []
        delta = 0
        for offset, lineno in dis.findlinestarts(co):
            if not lineno or co.co_code[offset] in _SKIPPED_OPS:
                continue
            while offset >= 2 and offset < len(co.co_code) and co.co_code[offset - 2] == _bc.op_EXTENDED_ARG:
                offset += 2  # never between an EXTENDED_ARG and its instruction
            probe = _probe.new(self, co.co_filename, lineno, 50)
            probes.append(probe)
            delta += ed.insert_function_call(offset + delta, signal_index, (ed.add_const(probe),))
        new_code = ed.finish()
        for probe, off in zip(probes, ed.get_inserts()):
            _probe.set_immediate(probe, new_code.co_code, off)
        return new_code

    def start(self) -> None:
        """Start recording; code that was not passed through ``instrument`` is traced instead."""
        if not self._instrumented:
            sys.settrace(self._global_trace)

    def stop(self) -> set[int]:
        """Stop recording and return the executed lines."""
        if not self._instrumented:
            sys.settrace(None)
            return set(self._lines)
        return {int(n) for n in self.newly_seen.get(self.filename, ()) if isinstance(n, int) and n > 0}

    # the slow fallback ------------------------------------------------------------------------
    def _global_trace(self, frame: Any, event: str, arg: Any) -> Callable | None:
        return self._local_trace if frame.f_code.co_filename == self.filename else None

    def _local_trace(self, frame: Any, event: str, arg: Any) -> Callable | None:
        if event == "line":
            self._lines.add(frame.f_lineno)
        return self._local_trace
