"""What runs inside a test's sandboxed process: load the program, run one test, report.

Everything here executes in the untrusted process, after the sandbox is in place. It reports
raw facts (did the program finish, what did it raise, what did it return, which lines ran) as
one JSON message on a pipe; judging happens outside, where the expected answers live.

The program runs as a fresh ``__main__`` module, the way ``python solution.py`` would run it:
``if __name__ == "__main__"`` works, ``sys.exit()`` at the end of a stdin program is a normal
finish, non-daemon threads are joined (the deep-recursion-in-a-thread habit), ``atexit``
handlers run and ``sys.stdout`` is flushed afterwards (fast-IO templates rely on both), and
``open(0)``, ``os.read(0, n)`` and ``sys.stdin.buffer`` all read the test input.
"""

from __future__ import annotations

import atexit
import builtins
import io
import json
import math
import os
import sys
import threading
import traceback
import types
from typing import Any

from .tracing import LineTracer

PROGRAM_FILE = "solution.py"

#: Names APPS's harness put in scope of call-based programs (LeetCode-style solutions rely on
#: ``List`` and friends without importing them). Injected into the module's namespace, not
#: prepended as source, so line numbers stay those of the program.
CALL_PRELUDE = (
    "import sys, time, itertools, collections, math, fractions, random, heapq, bisect, functools, string, re\n"
    "from itertools import accumulate, product, permutations, combinations\n"
    "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n"
    "from functools import lru_cache, reduce, cache\n"
    "from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2, inf\n"
    "from heapq import heappush, heappop, heapify, heappushpop, heapreplace, nlargest, nsmallest\n"
    "from bisect import bisect, bisect_left, bisect_right, insort, insort_left, insort_right\n"
    "from typing import *\n"
)
_prelude_cache: dict[str, dict[str, Any]] = {}


def prelude_namespace(kind: str) -> dict[str, Any]:
    """Names injected before a program runs: nothing, or the call-based prelude."""
    if kind == "none":
        return {}
    if kind not in _prelude_cache:
        ns: dict[str, Any] = {}
        src = CALL_PRELUDE + ("import numpy as np\n" if kind == "apps" else "")
        exec(compile(src, "<prelude>", "exec"), ns)
        ns.pop("__builtins__", None)
        _prelude_cache[kind] = ns
    return _prelude_cache[kind]


def encode_value(v: Any, depth: int = 0) -> Any:
    """Plain JSON for a returned value; anything that is not plain data stays opaque.

    Opaque values never equal an expected output, so objects with a doctored ``__eq__`` gain
    nothing. Floats that JSON cannot carry (nan, inf) are tagged.
    """
    if depth > 200:
        return {"__opaque__": "too deep", "repr": ""}
    t = type(v)
    if v is None or t is bool or t is int or t is str:
        return v
    if t is float:
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if t is list or t is tuple:
        return [encode_value(x, depth + 1) for x in v]
    if t is dict:
        if all(type(k) is str for k in v):
            return {k: encode_value(x, depth + 1) for k, x in v.items()}
        return {"__pairs__": [[encode_value(k, depth + 1), encode_value(x, depth + 1)] for k, x in v.items()]}
    if t is set or t is frozenset:
        return {"__set__": [encode_value(x, depth + 1) for x in v]}
    try:
        text = object.__repr__(v)
    except Exception:
        text = ""
    return {"__opaque__": t.__name__ if isinstance(t.__name__, str) else "object", "repr": text[:200]}


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _raised_in_test_code(tb: Any) -> bool:
    """True when the innermost frame of a traceback is test code rather than the program."""
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename == "<test>"


def _shutdown_like_interpreter() -> str | None:
    """Join threads, run atexit handlers, flush stdio: what Python does at exit."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except BaseException:
        pass
    atexit._run_exitfuncs()
    error = None
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        try:
            if stream is not None:
                stream.flush()
        except BaseException as exc:  # EFBIG: output limit
            error = error or f"{type(exc).__name__}: {exc}"
    return error


def run_test(spec: dict[str, Any], index: int, report_fd: int, trace: bool, nonce: str) -> None:
    """Run test ``index`` of ``spec`` in this (already sandboxed) process and report; never returns.

    The report carries a per-test nonce, so bytes a program writes to the report pipe by itself
    (after finding it in /proc/self/fd) are not taken for the harness's report.
    """
    report: dict[str, Any] = {"phase": "compile", "ok": False}
    tracer = LineTracer(os.path.abspath(PROGRAM_FILE), spec.get("_known_files")) if trace else None
    try:
        _run(spec, index, report, tracer)
    except BaseException as exc:  # a harness-level failure is reported, not raised
        report.setdefault("exc_type", type(exc).__name__)
        report.setdefault("exc_msg", str(exc)[:500])
    if tracer is not None:
        try:
            report["lines"] = sorted(tracer.stop())
        except BaseException:
            report["lines"] = []
    report["nonce"] = nonce
    try:
        payload = json.dumps(report).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        payload = json.dumps({"phase": report.get("phase"), "ok": False, "exc_type": "HarnessError",
                              "exc_msg": f"unreportable result: {exc}"[:500]}).encode()
    view = memoryview(payload)
    while view:
        n = os.write(report_fd, view)
        view = view[n:]
    os._exit(0)


def _run(spec: dict[str, Any], index: int, report: dict[str, Any], tracer: LineTracer | None) -> None:
    fmt = spec["format"]
    sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)
    sys.argv = [PROGRAM_FILE]
    sys.setrecursionlimit(1000)
    atexit._clear()
    filename = os.path.abspath(PROGRAM_FILE)
    try:
        code = compile(spec["program"], filename, "exec", dont_inherit=True)
    except BaseException as exc:
        report.update(exc_type=type(exc).__name__, exc_msg=_one_line(exc))
        return
    module = types.ModuleType("__main__")
    module.__dict__.update(prelude_namespace(spec["prelude"]))
    module.__dict__.update(__file__=filename, __builtins__=builtins)
    sys.modules["__main__"] = module
    pristine_builtins = spec["_pristine_builtins"]

    report["phase"] = "program"
    if tracer is not None:
        tracer.start()
    try:
        exec(code, module.__dict__)
        exit_code = 0
    except SystemExit as exc:
        exit_code = _exit_code(exc)
    except BaseException as exc:
        _record_exception(report, exc)
        return
    if fmt == "stdin":
        flush_error = _shutdown_like_interpreter()
        report.update(ok=exit_code == 0 and flush_error is None, exit_code=exit_code)
        if flush_error:
            report.update(exc_type="OutputError", exc_msg=flush_error)
        elif exit_code:
            report.update(exc_type="SystemExit", exc_msg=f"exit code {exit_code}")
        report["phase"] = "done"
        return

    # call and assert tests run after the module body, even if it called sys.exit(0): what the
    # tests verify decides the verdict, not how the module ended.
    report["phase"] = "test"
    try:
        if fmt == "assert" and spec["_setup_code"] is not None:  # MBPP's setup builds fixtures from the program's classes
            exec(spec["_setup_code"], module.__dict__)
        if fmt == "call":
            fn = _find_callable(module.__dict__, spec["fn_name"])
            value = fn(*spec["inputs"][index])
            report["value"] = encode_value(value)
        else:
            test_ns = {k: _guard_returns(v) for k, v in module.__dict__.items()}
            test_ns["__builtins__"] = dict(pristine_builtins)  # a program cannot doctor the checker's builtins
            exec(spec["_test_code"][index], test_ns)
    except SystemExit as exc:
        report.update(exc_type="SystemExit", exc_msg=f"the program exited (code {_exit_code(exc)}) during the test")
        return
    except BaseException as exc:
        _record_exception(report, exc)
        if isinstance(exc, AssertionError) and _raised_in_test_code(exc.__traceback__):
            report["assertion_failed"] = True
        return
    flush_error = _shutdown_like_interpreter()
    if flush_error:
        report.update(exc_type="OutputError", exc_msg=flush_error)
        return
    report.update(ok=True, phase="done")


class UntrustedValue:
    """Stands in for a returned object of a class the program defined itself.

    Such an object could define ``__eq__`` to return True and so pass ``assert f(x) == y``
    without computing anything; in its place, no comparison holds and truth-testing fails.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return False

    def __bool__(self) -> bool:
        raise TypeError(f"a {self.type_name} defined by the program cannot be judged")

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<untrusted {self.type_name}>"


def _program_defined(v: Any) -> bool:
    return type(v).__module__ == "__main__" and not isinstance(v, type)


def _guard_returns(v: Any) -> Any:
    """Wrap a program's function so that what assert-style tests compare is plain data."""
    if not isinstance(v, types.FunctionType) or v.__module__ != "__main__":
        return v

    def guarded(*args: Any, **kwargs: Any) -> Any:
        out = v(*args, **kwargs)
        if _program_defined(out):
            return UntrustedValue(type(out).__name__)
        if type(out) in (list, tuple, set, frozenset) and any(_program_defined(x) for x in out):
            return UntrustedValue(type(out).__name__)
        return out

    guarded.__name__ = v.__name__
    guarded.__wrapped__ = v  # type: ignore[attr-defined]
    return guarded


def _find_callable(ns: dict[str, Any], name: str) -> Any:
    fn = ns.get(name)
    if callable(fn) and not isinstance(fn, type):
        return fn
    solution = ns.get("Solution")
    if isinstance(solution, type) and hasattr(solution, name):
        return getattr(solution(), name)
    raise NameError(f"the program defines no function {name!r} (nor a Solution.{name} method)")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.msg} (line {exc.lineno})"
    return str(exc).splitlines()[0][:500] if str(exc) else ""


def _record_exception(report: dict[str, Any], exc: BaseException) -> None:
    report.update(exc_type=type(exc).__name__, exc_msg=_one_line(exc))
    if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG
        report.update(exc_type="OutputError", exc_msg="output limit exceeded")
    try:
        tb = traceback.extract_tb(exc.__traceback__)
        own = [f for f in tb if f.filename.endswith(PROGRAM_FILE) or f.filename in ("<test>", "<setup>")]
        if own:
            report["line"] = own[-1].lineno if own[-1].filename.endswith(PROGRAM_FILE) else None
        # show the program's frames only, not the harness's
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(own[-8:]))
        sys.stderr.write(text + "".join(traceback.format_exception_only(type(exc), exc)))
        sys.stderr.flush()
    except BaseException:
        pass
