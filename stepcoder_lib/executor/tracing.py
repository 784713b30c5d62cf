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

import contextlib
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


#: Where a probe goes, per code object (children first): (index of the signal function's constant,
#: [(index of the probe's constant, line, offset of its inserted call)]). Plain data: it travels.
ProbePlan = list[tuple[int, list[tuple[int, int, int]]]]


def plan_probes(code: types.CodeType) -> tuple[types.CodeType, ProbePlan]:
    """The program's code with room for a probe at the start of every line, and where they go.

    Done once per program by the worker, outside the sandbox (the result marshals: placeholders,
    not probes); each test's process then only attaches the probes (``LineTracer.attach``).
    """
    if _bc is None:
        raise ImportError("slipcover is not available")
    plan: ProbePlan = []
    return _plan(code, plan), plan


def _plan(co: types.CodeType, plan: ProbePlan) -> types.CodeType:
    ed = _bc.Editor(co)
    for i, c in enumerate(co.co_consts):
        if isinstance(c, types.CodeType):
            ed.set_const(i, _plan(c, plan))
    signal_index = ed.add_const(("stepcoder probe signal",))
    probes = []
    delta = 0
    for offset, lineno in dis.findlinestarts(co):
        if not lineno or co.co_code[offset] in _SKIPPED_OPS:
            continue
        while offset >= 2 and offset < len(co.co_code) and co.co_code[offset - 2] == _bc.op_EXTENDED_ARG:
            offset += 2  # never between an EXTENDED_ARG and its instruction
        index = ed.add_const(("stepcoder probe", lineno))
        probes.append((index, lineno))
        delta += ed.insert_function_call(offset + delta, signal_index, (index,))
    new_code = ed.finish()
    plan.append((signal_index, [(i, line, off) for (i, line), off in zip(probes, ed.get_inserts())]))
    return new_code


class _LineSink(defaultdict):  # type: ignore[type-arg]
    """slipcover's ``newly_seen``, which also writes each line to ``fd`` the moment it is first hit.

    A probe looks up ``newly_seen[filename]`` once, on its line's first execution, from the program's
    own frame, whose ``f_lineno`` is that line; byte ``line`` of the file is set. A test killed at its
    CPU or wall limit never reaches ``stop``, but the lines it ran up to the kill are in the file
    (FGO must see the loop that timed out). A program could write there too; like the report's
    lines, coverage is the program's word (the README's limits say so).
    """

    def __init__(self, fd: int) -> None:
        super().__init__(set)
        self.fd = fd

    def __getitem__(self, filename: str) -> set[int]:
        with contextlib.suppress(Exception):  # a bad descriptor only loses the early copy
            os.pwrite(self.fd, b"\1", sys._getframe(1).f_lineno)
        return super().__getitem__(filename)


class LineTracer:
    """Records the executed 1-based line numbers of one program's code.

    ``sink_fd``: a file that receives byte 1 at offset ``line`` when a line first runs, so the lines
    survive a process that is killed before ``stop`` (see ``_LineSink``).
    """

    def __init__(self, filename: str, sink_fd: int | None = None) -> None:
        self.filename = filename
        self.sink_fd = sink_fd
        # written by slipcover's probes
        self.newly_seen: dict[str, set[int]] = defaultdict(set) if sink_fd is None else _LineSink(sink_fd)
        self._lines: set[int] = set()
        self._probes = _probe is not None
        self._instrumented = False

    def instrument(self, code: types.CodeType) -> types.CodeType:
        """The program's code with a probe at the start of every line (recursively)."""
        if not self._probes:
            return code
        try:
            return self.attach(*plan_probes(code))
        except Exception:  # an unusual code shape: fall back to tracing this process
            self._probes = False
            return code

    def attach(self, planned: types.CodeType, plan: ProbePlan) -> types.CodeType:
        """Put this tracer's probes into code prepared by ``plan_probes``."""
        steps = iter(plan)
        code = self._attach(planned, steps)
        if next(steps, None) is not None:
            raise ValueError("the probe plan does not match the code")
        self._instrumented = True
        return code

    def _attach(self, co: types.CodeType, steps: Any) -> types.CodeType:
        consts = list(co.co_consts)
        for i, c in enumerate(consts):
            if isinstance(c, types.CodeType):
                consts[i] = self._attach(c, steps)
        signal_index, probes = next(steps)
        consts[signal_index] = _probe.signal
        made = []
        for index, line, _offset in probes:
            consts[index] = _probe.new(self, co.co_filename, line, 50)
            made.append(consts[index])
        # a fresh co_code, as slipcover's own editor makes: the probes patch it in place
        new_code = co.replace(co_consts=tuple(consts), co_code=bytes(co.co_code))
        for probe, (_index, _line, offset) in zip(made, probes):
            _probe.set_immediate(probe, new_code.co_code, offset)
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
        if event == "line" and frame.f_lineno not in self._lines:
            self._lines.add(frame.f_lineno)
            if self.sink_fd is not None:
                with contextlib.suppress(OSError):
                    os.pwrite(self.sink_fd, b"\1", frame.f_lineno)
        return self._local_trace
