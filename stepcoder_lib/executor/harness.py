"""Both ends of a test: the program's process (forked from the clean zygote) and the judge.

``await_test`` and ``child_main`` are the first code of every forked test process. It confines
itself (an unprivileged user, seccomp, Landlock, rlimits), reads its own spec (this test only: the
zygote never held job data, so neither does the child) and runs the program as a fresh ``__main__`` module, the way
``python solution.py`` would (``if __name__ == "__main__"`` works, ``sys.exit()`` at the end is a
normal finish, non-daemon threads are joined, ``atexit`` handlers run, stdout is flushed even if
the program closed it). Then, by format:

* ``stdin``: nothing more; what it printed is read by the worker from a file the program has no
  path to.
* ``call``: it calls ``fn_name`` and reports the value as tagged plain data (``values``).
* ``assert``: it *serves* the judge: calls, attribute reads and writes on its objects, with plain
  data in and out. ``run_judge`` runs the test code (MBPP, HumanEval; trusted) in the worker's
  supervisor, a process the program cannot reach, where the program's functions and classes are
  proxies (``Remote``). A program can no longer patch the checker, its builtins, ``math`` or
  ``sys.modules``, or hand it an always-equal object: what crosses is plain data, and a program
  object stays a handle that equals nothing.

The program's report (exception, value, executed lines) is written by code in its own process,
so a program can forge it; every field is something the program could have produced honestly
(raising, returning a value), except the executed lines, documented as a limit in the README.
Verdicts are decided outside, in the parent, from what the program printed or returned, the
judge's outcome and what the kernel says about the process (exit, signal, CPU time).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import functools
import json
import os
import pickle
import struct
import sys
import traceback
import types
from typing import Any

from . import values
from .tracing import LineTracer

PROGRAM_FILE = "solution.py"
#: Where the tracer writes each line as it is first hit (the worker's "lines" descriptor, see ``child_main``).
LINES_FD = 6
_HEADER = struct.Struct("<I")

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
    """Names injected before a program runs: nothing, or the call-based prelude.

    Built in the test's process when first needed: the prelude imports ``random``, whose
    after-fork hook would otherwise cost every forked test ~0.1 ms (see ``worker._preload``).
    """
    if kind == "none":
        return {}
    if kind not in _prelude_cache:
        ns: dict[str, Any] = {}
        src = CALL_PRELUDE + ("import numpy as np\n" if kind == "apps" else "")
        exec(compile(src, "<prelude>", "exec"), ns)
        ns.pop("__builtins__", None)
        _prelude_cache[kind] = ns
    return _prelude_cache[kind]


# --- framing ------------------------------------------------------------------------------------
def send(fd: int, obj: Any) -> None:
    body = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode()
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view):]


class Reader:
    """Length-prefixed JSON messages from a descriptor, read in as few system calls as possible."""

    def __init__(self, fd: int, limit: int, wait: Any = None) -> None:
        self.fd, self.limit, self.wait = fd, limit, wait
        self.buf = bytearray()

    def _fill(self, need: int) -> None:
        if len(self.buf) < need and self.wait is not None:
            self.wait(self.fd)  # an answer is never there yet right after a request: skip the empty read
        while len(self.buf) < need:
            try:
                chunk = os.read(self.fd, max(need - len(self.buf), 1 << 16))
            except BlockingIOError:  # non-blocking descriptor: wait only when we must
                self.wait(self.fd)
                continue
            if not chunk:
                raise EOFError
            self.buf += chunk

    def receive(self) -> Any:
        """One message, or raise EOFError (peer gone) / ValueError (malformed or over the limit)."""
        self._fill(_HEADER.size)
        (n,) = _HEADER.unpack_from(self.buf)
        if n > self.limit:
            raise ValueError("message over the output limit")
        self._fill(_HEADER.size + n)
        body = bytes(self.buf[_HEADER.size:_HEADER.size + n])
        del self.buf[:_HEADER.size + n]
        try:
            return json.loads(body)
        except RecursionError:
            raise ValueError("message nested too deeply") from None


# --- entering the sandbox -----------------------------------------------------------------------
def await_test(channel: Any, ctx: Any) -> None:
    """A test process forked ahead of its test: confine everything that needs no test data, wait.

    The zygote keeps one such process ready, so forking and most of the confinement happen while
    the previous test runs rather than on the next one's critical path. It becomes the sandbox
    user, clears its environment and loads the seccomp filter, then receives its test's
    descriptors from the zygote on ``channel``. Never returns.
    """
    try:
        os.setsid()
        from . import sandbox
        if ctx.uid is not None:
            sandbox.become_user(ctx.uid, ctx.uid)  # and with root, every capability goes
        else:
            sandbox.drop_capabilities()
        sandbox.set_parent_death_signal()
        os.environ.clear()  # the trainer's environment never existed here; this clears Python's copy
        filt = ctx.seccomp if ctx.seccomp is not None else (
            sandbox.build_seccomp_filter(os.getpid()) if ctx.seccomp_per_child else None)
        if filt is not None:
            filt.load()
        import socket
        msg, fds, _, _ = socket.recv_fds(channel, 1 << 16, 64)
    except BaseException:
        os._exit(72)
    if not msg:
        os._exit(0)
    role, mapping = json.loads(msg)
    child_main(role, {name: fds[i] for name, i in mapping.items()}, ctx)


def child_main(role: str, fds: dict[str, int], ctx: Any) -> None:
    """The rest of a test process's set-up, once its descriptors arrived; never returns."""
    try:
        spec = pickle.loads(_pread_all(fds["spec"]))
        floor = 256 + max([0, *ctx.path_fds, *fds.values()])  # above every descriptor we still need
        ruleset = ctx.rulesets.get(role)  # built by the zygote for the test directory it last saw
        if ruleset is not None and "dir" in fds:
            st = os.fstat(fds["dir"])
            if (st.st_dev, st.st_ino) != ctx.program_dir:  # the directory was replaced since the fork
                ruleset = ctx.landlock.build_ruleset(fds["dir"])
        if ruleset is not None:
            ctx.landlock.enforce(ruleset)
        layout = ["stdin", "stdout", "stderr", "report", "in", "out", "lines"]
        devnull = os.open(os.devnull, os.O_RDWR)
        high = {name: _dup_high(fds.get(name, devnull), floor) for name in layout}
        tdir = _dup_high(fds["dir"], floor) if "dir" in fds else None
        for target, name in enumerate(layout):
            os.dup2(high[name], target)
        if tdir is not None:
            os.fchdir(tdir)
        else:
            os.chdir("/")
        keep = sorted(set(ctx.path_fds) | set(range(len(layout))))
        last = -1
        for fd in keep + [1 << 16]:
            if fd > last + 1:
                os.closerange(last + 1, fd)
            last = fd
        from . import sandbox
        address_space = ctx.baseline_as + spec["memory_bytes"] if spec.get("memory_bytes") else None
        sandbox.apply_rlimits(spec["cpu_limit_s"], address_space, spec.get("output_limit", 1 << 24),
                              max_threads=spec.get("max_threads"))
        # tempfile (not imported yet: see worker._preload) finds the test directory by itself:
        # it is the only writable candidate
    except BaseException as exc:  # the sandbox could not be set up: report it, run nothing
        try:
            os.write(3, json.dumps({"phase": "setup", "ok": False, "exc_type": "SandboxError",
                                    "exc_msg": f"{type(exc).__name__}: {exc}"[:500]}).encode())
        finally:
            os._exit(71)
    try:
        run_program(spec)
    finally:
        os._exit(70)


def _pread_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _dup_high(fd: int, floor: int) -> int:
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD, floor)


# --- the program's process ------------------------------------------------------------------------
def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _shutdown_like_interpreter() -> str | None:
    """Join threads, run atexit handlers, flush stdio: what Python does at exit.

    Like the interpreter, a stream the program closed is not flushed (and is no error).
    """
    threading = sys.modules.get("threading")  # imported only if the program used it (see worker._preload)
    if threading is not None:
        with contextlib.suppress(BaseException):
            threading._shutdown()
    atexit._run_exitfuncs()
    error = None
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        try:
            if stream is not None and not getattr(stream, "closed", False):
                stream.flush()
        except BaseException as exc:  # EFBIG: output limit
            error = error or f"{type(exc).__name__}: {exc}"
    return error


def _finish(report: dict[str, Any], tracer: LineTracer | None) -> None:
    if tracer is not None:
        try:
            report["lines"] = sorted(tracer.stop())
        except BaseException:
            report["lines"] = []
    try:
        payload = json.dumps(report, ensure_ascii=True).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        payload = json.dumps({"phase": report.get("phase"), "ok": False, "exc_type": "HarnessError",
                              "exc_msg": f"unreportable result: {exc}"[:500]}).encode()
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(3, view):]
    except OSError:
        pass
    os._exit(0)


def run_program(spec: dict[str, Any]) -> None:
    """Run the program (and, by format, its call or its judge's requests); report; exit."""
    report: dict[str, Any] = {"phase": "compile", "ok": False}
    tracer = LineTracer(os.path.abspath(PROGRAM_FILE), sink_fd=LINES_FD) if spec["coverage"] else None
    try:
        _run(spec, report, tracer)
    except BaseException as exc:  # a harness-level failure is reported, not raised
        report.setdefault("exc_type", type(exc).__name__)
        report.setdefault("exc_msg", _one_line(exc))
    _finish(report, tracer)


def _run(spec: dict[str, Any], report: dict[str, Any], tracer: LineTracer | None) -> None:
    fmt = spec["format"]
    # the program's own standard streams: they live as long as its process
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # type: ignore[misc]  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # type: ignore[misc]  # noqa: SIM115
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)  # type: ignore[misc]  # noqa: SIM115
    sys.argv = [PROGRAM_FILE]
    sys.setrecursionlimit(1000)
    sys.set_int_max_str_digits(0)  # big-integer answers print whatever their size
    atexit._clear()
    filename = os.path.abspath(PROGRAM_FILE)
    try:
        code = compile(spec["program"], filename, "exec", dont_inherit=True)
    except BaseException as exc:
        report.update(exc_type=type(exc).__name__, exc_msg=_one_line(exc))
        return
    if tracer is not None:
        code = tracer.instrument(code)
    module = types.ModuleType("__main__")
    module.__dict__.update(prelude_namespace(spec["prelude"]))
    module.__dict__.update(__file__=filename, __builtins__=builtins)
    sys.modules["__main__"] = module

    report["phase"] = "program"
    if tracer is not None:
        tracer.start()
    exit_code = 0
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        exit_code = _exit_code(exc)
    except BaseException as exc:
        if fmt == "assert":
            _serve_judge(module.__dict__, spec, report, error=exc)
        _record_exception(report, exc)
        _shutdown_like_interpreter()  # like Python after an uncaught exception: what was printed is kept
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
    if fmt == "assert":
        _serve_judge(module.__dict__, spec, report)
        report.update(ok=True, phase="done")
        return
    try:
        fn = _find_callable(module.__dict__, spec["fn_name"])
        value = fn(*values.decode(json.loads(spec["args"])))
        encoded = values.encode(value)  # fails here, as the program's error, if the value cannot be carried
    except SystemExit as exc:
        report.pop("value", None)
        report.update(ok=False, exc_type="SystemExit",
                      exc_msg=f"the program exited (code {_exit_code(exc)}) during the test")
        return
    except BaseException as exc:
        _record_exception(report, exc)
        return
    flush_error = _shutdown_like_interpreter()
    if flush_error:
        report.pop("value", None)
        report.update(ok=False, exc_type="OutputError", exc_msg=flush_error)
        return
    report.update(ok=True, phase="done", value=encoded)


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
    try:
        text = str(exc)
    except BaseException:
        return ""
    return text.splitlines()[0][:500] if text else ""


def _program_line(exc: BaseException) -> int | None:
    try:
        own = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(PROGRAM_FILE)]
        return own[-1].lineno if own else None
    except BaseException:
        return None


def _record_exception(report: dict[str, Any], exc: BaseException) -> None:
    report.pop("value", None)
    report.update(ok=False, exc_type=type(exc).__name__, exc_msg=_one_line(exc))
    if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG
        report.update(exc_type="OutputError", exc_msg="output limit exceeded")
    report["line"] = _program_line(exc)
    try:
        tb = traceback.extract_tb(exc.__traceback__)
        own = [f for f in tb if f.filename.endswith(PROGRAM_FILE)]
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(own[-8:]))
        sys.stderr.write(text + "".join(traceback.format_exception_only(type(exc), exc)))
        sys.stderr.flush()
    except BaseException:
        pass


# --- serving the judge (in the program's process) -------------------------------------------------
def _serve_judge(ns: dict[str, Any], spec: dict[str, Any], report: dict[str, Any],
                 error: BaseException | None = None) -> None:
    """Answer the judge's requests on fds 4 (in) and 5 (out) until it hangs up."""
    handles: dict[int, Any] = {}

    def keep(obj: Any) -> int:
        handles[len(handles) + 1] = obj
        return len(handles)

    requests = Reader(4, spec["message_limit"])
    if error is not None:
        send(5, ["error", type(error).__name__, _one_line(error), _program_line(error)])
        return
    entries = []
    for name, v in list(ns.items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        try:
            entries.append(_describe(name, v, keep))
        except Exception:
            continue
    send(5, ["ns", entries])
    while True:
        try:
            request = requests.receive()
        except (EOFError, OSError):
            return
        try:
            reply = _answer(request, handles, keep)
        except SystemExit as exc:
            reply = ["exit", _exit_code(exc)]
        except BaseException as exc:
            reply = ["raise", type(exc).__name__, _one_line(exc), _program_line(exc),
                     isinstance(exc, Exception)]
        try:
            send(5, reply)
        except ValueError:  # not encodable as JSON
            send(5, ["raise", "HarnessError", "unreportable value", None, True])
        if reply[0] == "exit":
            return


def _describe(name: str, v: Any, keep: Any) -> list[Any]:
    if isinstance(v, types.ModuleType):
        return [name, "m", v.__name__ if isinstance(v.__name__, str) else ""]
    module, qualname = getattr(v, "__module__", None), getattr(v, "__qualname__", None)
    if (isinstance(v, (type, types.FunctionType, types.BuiltinFunctionType)) and isinstance(module, str)
            and module != "__main__" and isinstance(qualname, str)):
        return [name, "r", module, qualname, values.encode(v, keep)]
    return [name, "v", values.encode(v, keep)]


def _answer(request: list[Any], handles: dict[int, Any], keep: Any) -> list[Any]:
    op, hid = request[0], request[1]
    target = handles[hid]

    def arg(node: Any) -> Any:
        return values.decode(node, make_handle=lambda h: handles[h.id])

    if op == "call":
        kwargs = {k: arg(x) for k, x in request[3]}
        result = target(*[arg(x) for x in request[2]], **kwargs)
    elif op == "getattr":
        result = getattr(target, request[2])
    elif op == "setattr":
        setattr(target, request[2], arg(request[3]))
        result = None
    elif op == "getitem":
        result = target[arg(request[2])]
    elif op == "bool":
        result = bool(target)
    elif op == "len":
        result = len(target)
    elif op == "iter":
        result = iter(target)
    elif op == "next":
        try:
            result = next(target)
        except StopIteration:
            return ["stop"]
    elif op == "contains":
        result = arg(request[2]) in target
    elif op == "str":
        result = str(target)
    elif op == "repr":
        result = repr(target)
    else:
        raise ValueError(f"unknown request {op!r}")
    return ["ok", values.encode(result, keep)]


# --- the judge (in the worker's supervisor) ------------------------------------------------------
class ProgramGone(BaseException):
    """The program's process ended (or broke the protocol) while the judge waited on it."""


class ProgramExited(BaseException):
    """The program called ``sys.exit`` inside a tested function."""


_raised_types: dict[str, type] = {}


def _program_exception(type_name: str, message: str, line: int | None, is_exception: bool) -> BaseException:
    """An exception the test code can catch as the program's own type, marked as the program's."""
    key = f"{type_name}/{is_exception}"
    cls = _raised_types.get(key)
    if cls is None:
        base = getattr(builtins, type_name, None)
        if not (isinstance(base, type) and issubclass(base, BaseException)) or base in (SystemExit, KeyboardInterrupt):
            base = Exception if is_exception else BaseException
        try:
            cls = type(type_name, (base,), {"_from_program": True})
        except TypeError:
            cls = type(type_name, (Exception,), {"_from_program": True})
        _raised_types[key] = cls
    try:
        exc = cls(message)
    except Exception:
        exc = type(type_name, (Exception,), {"_from_program": True})(message)
    exc._program_line = line  # type: ignore[attr-defined]
    return exc


class _Channel:
    """The judge's end of the pipes to the program's process; every wait honours the deadline."""

    def __init__(self, limit: int, out_fd: int, in_fd: int, wait: Any) -> None:
        self.out_fd, self.wait = out_fd, wait
        self.reader = Reader(in_fd, limit, wait)

    def send(self, obj: Any) -> None:
        body = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode()
        view = memoryview(_HEADER.pack(len(body)) + body)
        while view:
            try:
                view = view[os.write(self.out_fd, view):]
            except BlockingIOError:  # the descriptors are non-blocking: wait only when we must
                self.wait(self.out_fd, write=True)

    def receive(self) -> Any:
        return self.reader.receive()

    def ask(self, request: list[Any]) -> Any:
        try:
            self.send(request)
            reply = self.receive()
        except (EOFError, OSError) as exc:
            raise ProgramGone("the program's process ended during the test") from exc
        except ValueError as exc:
            raise ProgramGone(f"the program's answer was unreadable: {exc}") from exc
        if not isinstance(reply, list) or not reply or not isinstance(reply[0], str):
            raise ProgramGone("the program's answer was unreadable")
        kind = reply[0]
        if kind == "ok" and len(reply) == 2:
            try:
                return values.decode(reply[1], make_handle=self.proxy)
            except ValueError as exc:
                raise ProgramGone(f"the program's answer was unreadable: {exc}") from exc
        if kind == "stop":
            raise StopIteration
        if kind == "exit":
            raise ProgramExited("the program exited during the test")
        if kind == "raise" and len(reply) == 5:
            name = reply[1] if isinstance(reply[1], str) and reply[1].isidentifier() else "Exception"
            line = reply[3] if type(reply[3]) is int else None
            raise _program_exception(name[:100], str(reply[2])[:500], line, reply[4] is not False)
        raise ProgramGone("the program's answer was unreadable")

    def proxy(self, handle: values.Handle) -> Remote:
        return Remote(self, handle)

    def encode(self, v: Any) -> Any:
        return values.encode(v, _remote_id)


def _remote_id(obj: Any) -> int:
    """Handles are how the judge passes the program's own objects back to it."""
    if type(obj) is Remote:
        return object.__getattribute__(obj, "_h").id
    raise TypeError(f"a {type(obj).__name__} cannot be passed to the program (plain data only)")


class Remote:
    """An object living in the program's process: calls and attributes go there as plain data.

    It equals nothing (not even itself as returned again), so a program cannot pass a test by
    returning an object that claims equality.
    """

    __slots__ = ("_c", "_h")

    def __init__(self, channel: _Channel, handle: values.Handle) -> None:
        object.__setattr__(self, "_c", channel)
        object.__setattr__(self, "_h", handle)

    def _ask(self, op: str, *args: Any) -> Any:
        c = object.__getattribute__(self, "_c")
        return c.ask([op, object.__getattribute__(self, "_h").id, *args])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        c = object.__getattribute__(self, "_c")
        return self._ask("call", [c.encode(a) for a in args], [[k, c.encode(v)] for k, v in kwargs.items()])

    def __getattr__(self, name: str) -> Any:
        return self._ask("getattr", name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("setattr", name, object.__getattribute__(self, "_c").encode(value))

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", object.__getattribute__(self, "_c").encode(key))

    def __bool__(self) -> bool:
        return self._ask("bool") is True

    def __len__(self) -> int:
        n = self._ask("len")
        if type(n) is not int:
            raise TypeError("len() of a program object is not an int")
        return n

    def __iter__(self) -> Any:
        it = self._ask("iter")
        if type(it) is not Remote:
            raise TypeError("the program's iterator is not iterable")
        while True:
            try:
                item = it._ask("next")
            except StopIteration:
                return
            yield item

    def __contains__(self, item: Any) -> bool:
        return self._ask("contains", object.__getattribute__(self, "_c").encode(item)) is True

    def __str__(self) -> str:
        s = self._ask("str")
        return s if type(s) is str else "<program object>"

    def __repr__(self) -> str:
        s = self._ask("repr")
        return s if type(s) is str else "<program object>"

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, "_h").id)


def _namespace(entries: Any, channel: _Channel) -> dict[str, Any]:
    import importlib

    ns: dict[str, Any] = {}
    if not isinstance(entries, list):
        raise ProgramGone("the program's namespace was unreadable")
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) >= 3 and isinstance(entry[0], str) and entry[0].isidentifier()):
            continue
        name, kind = entry[0], entry[1]
        try:
            if kind == "m" and isinstance(entry[2], str):
                ns[name] = importlib.import_module(entry[2])  # the judge's own copy of the module
            elif kind == "r" and len(entry) == 5 and isinstance(entry[2], str) and isinstance(entry[3], str):
                try:
                    obj: Any = importlib.import_module(entry[2])
                    for part in entry[3].split("."):
                        obj = getattr(obj, part)
                    ns[name] = obj  # a library object: the judge's own, whatever the program did to its copy
                except Exception:
                    ns[name] = values.decode(entry[4], make_handle=channel.proxy)
            elif kind == "v":
                ns[name] = values.decode(entry[2], make_handle=channel.proxy)
        except Exception:
            continue
    return ns


@functools.lru_cache(maxsize=2048)
def _compiled(code: str, name: str) -> types.CodeType:
    """Test code repeats across the rollouts of a problem: compile it once (code objects are immutable)."""
    return compile(code, name, "exec")


def run_judge(spec: dict[str, Any], channel: _Channel, pristine_builtins: dict[str, Any]) -> dict[str, Any]:
    """Run one assert-style test against the program's process; return the outcome.

    Runs in the worker's supervisor (trusted, outside the sandbox, unreachable from the
    program): the test code gets a fresh namespace with pristine builtins and the judge's own
    modules; the program's names are proxies (``Remote``) or copies of plain data.
    """
    out: dict[str, Any] = {"status": "passed"}
    try:
        try:
            first = channel.receive()
        except (EOFError, OSError):
            raise ProgramGone("the program's process ended before the test") from None
        except ValueError as exc:
            raise ProgramGone(f"the program's namespace was unreadable: {exc}") from None
        if isinstance(first, list) and first and first[0] == "error" and len(first) == 4:
            out = {"status": "program_error", "exc_type": str(first[1])[:100], "exc_msg": str(first[2])[:500],
                   "line": first[3] if type(first[3]) is int else None}
        elif isinstance(first, list) and len(first) == 2 and first[0] == "ns":
            ns = _namespace(first[1], channel)
            ns["__builtins__"] = dict(pristine_builtins)
            ns["__name__"] = "__main__"
            if spec.get("setup_code"):
                exec(_compiled(spec["setup_code"], "<setup>"), ns)
            exec(_compiled(spec["test_code"], "<test>"), ns)
        else:
            raise ProgramGone("the program's namespace was unreadable")
    except ProgramGone as exc:
        out = {"status": "program_gone", "exc_msg": str(exc)}
    except ProgramExited:
        out = {"status": "program_error", "exc_type": "SystemExit", "exc_msg": "the program exited during the test"}
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        if getattr(type(exc), "_from_program", False):
            out = {"status": "program_error", "exc_type": type(exc).__name__, "exc_msg": _one_line(exc),
                   "line": getattr(exc, "_program_line", None)}
        elif isinstance(exc, AssertionError):
            out = {"status": "assertion", "exc_msg": _one_line(exc), "test_line": _test_line(exc)}
        else:
            out = {"status": "test_error", "exc_type": type(exc).__name__, "exc_msg": _one_line(exc),
                   "test_line": _test_line(exc)}
    return out


def _test_line(exc: BaseException) -> int | None:
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in ("<test>", "<setup>")]
        return frames[-1].lineno if frames else None
    except BaseException:
        return None
