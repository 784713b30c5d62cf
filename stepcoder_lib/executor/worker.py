"""A sandbox worker: a clean, pre-warmed Python process that forks one child per test.

Started by ``Executor`` as ``python -m stepcoder_lib.executor.worker BASE_DIR``. It reads jobs
(pickled, length-prefixed) on fd 0 and answers on fd 1. Forking from a process that has already
imported the interpreter's common modules makes a test cost ~2 ms instead of a fresh
interpreter's ~20 ms, and keeps the user's (possibly huge, multi-threaded) process out of it.

The worker never sees expected outputs: it returns raw outcomes and the parent judges.
"""

from __future__ import annotations

import builtins
import ctypes
import os
import pickle
import resource
import select
import shutil
import signal
import struct
import sys
import time
from typing import Any

_STACK_ENV = "STEPCODER_WORKER_STACK_SET"
_STACK_BYTES = 1 << 30  # main-thread stack reserve for deep recursion (set before exec)
_HEADER = struct.Struct("<Q")
_OWN_FILES = frozenset({"solution.py", "stdin.txt", "stdout.txt", "stderr.txt"})
_PR_SET_CHILD_SUBREAPER = 36


def _raise_stack_limit_and_reexec() -> None:
    """The stack gap below the main thread is fixed at exec time, so raise the limit, then re-exec."""
    if os.environ.get(_STACK_ENV):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    want = _STACK_BYTES if hard == resource.RLIM_INFINITY else min(_STACK_BYTES, hard)
    os.environ[_STACK_ENV] = "1"
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
        os.execv(sys.executable, [sys.executable, "-m", "stepcoder_lib.executor.worker", *sys.argv[1:]])


def read_message(fd: int) -> Any:
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def write_message(fd: int, obj: Any) -> None:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class Worker:
    def __init__(self, base_dir: str, read_roots: list[str]) -> None:
        from . import sandbox

        self.base_dir = base_dir
        os.makedirs(base_dir, exist_ok=True)
        self.landlock = sandbox.LandlockRules.open(read_roots)
        signal_scoped = self.landlock is not None and self.landlock.abi >= 6
        self.seccomp = sandbox.compiled_seccomp_filter() if signal_scoped else None
        self.seccomp_per_child = not signal_scoped and sandbox.build_seccomp_filter(0) is not None
        self.layers = ["process", "rlimits"] + (["landlock"] if self.landlock else []) + (
            ["seccomp"] if (self.seccomp is not None or self.seccomp_per_child) else [])
        self._source_written: str | None = None
        self._ruleset_fd: int | None = None
        self._ruleset_ino: int | None = None
        self.pristine_builtins = dict(builtins.__dict__)
        from .tracing import untraced_dispositions
        self.known_files = untraced_dispositions()
        self.baseline_as = sandbox.current_address_space()
        try:
            ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans come back to us
        except Exception:
            pass

    # one job ---------------------------------------------------------------------------
    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        job["_pristine_builtins"] = self.pristine_builtins
        job["_known_files"] = self.known_files
        if job["format"] == "assert":  # trusted test code: compiled once here, not in every test process
            job["_setup_code"] = compile(job["setup_code"], "<setup>", "exec") if job["setup_code"] else None
            job["_test_code"] = [compile(code, "<test>", "exec") for code in job["inputs"]]
        outcomes: list[dict[str, Any]] = []
        started = time.monotonic()
        for i in range(len(job["inputs"])):
            if time.monotonic() - started > job["program_wall_s"]:
                outcomes.append({"index": i, "status": "skipped", "reason": "program time budget exhausted"})
                continue
            out = self.run_test(job, i)
            outcomes.append(out)
            if out.get("phase") == "compile" and not out.get("ok"):
                break  # a compile error fails every test the same way
            if job["early_stop"] and _settles_verdict(out, job["format"]):
                for j in range(i + 1, len(job["inputs"])):
                    outcomes.append({"index": j, "status": "skipped", "reason": "verdict already settled"})
                break
        self._empty_test_dir()  # nothing a program wrote outlives its job
        return {"outcomes": outcomes, "layers": self.layers, "wall_s": time.monotonic() - started}

    def _empty_test_dir(self) -> None:
        tdir = os.path.join(self.base_dir, "t")
        try:
            names = os.listdir(tdir)
        except OSError:
            force_remove(tdir)
            names = []
        for name in names:
            path = os.path.join(tdir, name)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            except OSError:
                force_remove(tdir)
                break
        self._source_written = None

    def _fresh_test_dir(self, program: str) -> str:
        """The test directory, emptied of whatever the last test left, with the program's source.

        Reused rather than re-created: an mkdir and a full removal per test cost more than
        removing the few files a program typically leaves.
        """
        tdir = os.path.join(self.base_dir, "t")
        try:
            leftovers = os.listdir(tdir)
        except FileNotFoundError:
            os.mkdir(tdir, 0o700)
            leftovers = []
        except OSError:  # e.g. the program chmod-ed its directory
            force_remove(tdir)
            return self._fresh_test_dir(program)
        for name in leftovers:
            path = os.path.join(tdir, name)
            if name in _OWN_FILES and not os.path.islink(path) and os.path.isfile(path):
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    force_remove(tdir)
                    return self._fresh_test_dir(program)
        if self.landlock is not None:
            ino = os.stat(tdir).st_ino
            if ino != self._ruleset_ino:  # a new directory needs a new ruleset (rules hold inodes)
                if self._ruleset_fd is not None:
                    os.close(self._ruleset_fd)
                self._ruleset_fd, self._ruleset_ino = self.landlock.build_ruleset(tdir), ino
        if program is not self._source_written or "solution.py" not in leftovers:
            with open(os.path.join(tdir, "solution.py"), "w", encoding="utf-8", errors="replace") as fh:
                fh.write(program)  # for tracebacks; the program is compiled from the job itself
            self._source_written = program
        return tdir

    def run_test(self, job: dict[str, Any], index: int) -> dict[str, Any]:
        tdir = self._fresh_test_dir(job["program"])
        stdin_path = os.path.join(tdir, "stdin.txt")
        with open(stdin_path, "w", encoding="utf-8", newline="") as fh:
            fh.write(job["inputs"][index] if job["format"] == "stdin" else "")
        cpu_limit = job["cpu_limit_s"]
        wall_limit = job["wall_limit_s"]
        nonce = os.urandom(16).hex()
        r, w = os.pipe()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # ---- child: never returns
            try:
                os.close(r)
                self._enter_sandbox(job, tdir, w, cpu_limit)
                from .harness import run_test
                run_test(job, index, w, job["coverage"], nonce)
            finally:
                os._exit(70)
        os.close(w)
        report, timed_out, overflow = self._supervise(pid, r, t0 + wall_limit, job["report_limit"])
        if report is not None and (not isinstance(report, dict) or report.pop("nonce", None) != nonce):
            report = None  # not written by the harness
        os.close(r)
        _, status, usage = os.wait4(pid, 0)
        wall = time.monotonic() - t0
        _kill_group(pid)
        _reap_orphans()
        out: dict[str, Any] = {
            "index": index, "status": "finished", "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_kb": usage.ru_maxrss,
            "wall_timeout": timed_out, "report_overflow": overflow,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "exit_status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "stdout": _read_bounded(os.path.join(tdir, "stdout.txt"), job["output_limit"]),
            "stderr": _read_bounded(os.path.join(tdir, "stderr.txt"), job["excerpt_chars"] * 4),
        }
        out["report"] = report
        out["phase"] = (report or {}).get("phase")
        out["ok"] = bool((report or {}).get("ok"))
        return out

    def _enter_sandbox(self, job: dict[str, Any], tdir: str, report_fd: int, cpu_limit: float) -> None:
        from . import sandbox

        os.setsid()
        fds = [os.open(os.path.join(tdir, "stdin.txt"), os.O_RDONLY),
               os.open(os.path.join(tdir, "stdout.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
               os.open(os.path.join(tdir, "stderr.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        if self.landlock is not None:
            self.landlock.enforce(self._ruleset_fd)
        # close every inherited descriptor (the worker's job pipes, the Landlock handles) but ours
        os.closerange(3, report_fd)
        os.closerange(report_fd + 1, 1 << 16)
        os.chdir(tdir)
        os.environ.update(TMPDIR=tdir, HOME=tdir)
        import tempfile
        tempfile.tempdir = tdir  # the worker may have cached /tmp
        sandbox.drop_capabilities()
        address_space = self.baseline_as + job["memory_bytes"] if job["memory_bytes"] else None
        sandbox.apply_rlimits(cpu_limit, address_space, job["output_limit"])
        filt = self.seccomp if self.seccomp is not None else (
            sandbox.build_seccomp_filter(os.getpid()) if self.seccomp_per_child else None)
        if filt is not None:
            filt.load()

    def _supervise(self, pid: int, r: int, deadline: float, limit: int) -> tuple[dict | None, bool, bool]:
        """Collect the child's report until it exits; kill it at the wall deadline."""
        data = bytearray()
        timed_out = overflow = eof = exited = False
        pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
        grace_until = None
        while not (eof and exited):
            now = time.monotonic()
            if now >= deadline or (grace_until is not None and now >= grace_until):
                timed_out = now >= deadline
                _kill_group(pid)
                break
            watch = [r] if not eof else []
            if pidfd is not None and not exited:
                watch.append(pidfd)
            wait = min(deadline, grace_until or deadline) - now
            if pidfd is None and not exited:
                wait = min(wait, 0.005)
            ready, _, _ = select.select(watch, [], [], wait) if watch else ([], [], [])
            if r in ready:
                chunk = os.read(r, 1 << 16)
                if not chunk:
                    eof = True
                elif len(data) + len(chunk) > limit:
                    overflow = True
                    _kill_group(pid)
                    break
                else:
                    data += chunk
            if not exited and (pidfd in ready if pidfd is not None else _has_exited(pid)):
                exited = True
                grace_until = time.monotonic() + 0.5  # a leaked descriptor must not hold us
        if pidfd is not None:
            os.close(pidfd)
        report = None
        if data and not overflow:
            import json
            try:
                report = json.loads(bytes(data))
            except (ValueError, RecursionError):
                report = None
        return report, timed_out, overflow


def force_remove(path: str) -> None:
    """Remove a tree even where a program took away its own permissions."""
    def retry(func: Any, p: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    shutil.rmtree(path, onerror=retry)  # ignore a missing path
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)


def _settles_verdict(out: dict[str, Any], fmt: str) -> bool:
    """After a runtime-family failure the program's verdict cannot change: later tests can stop."""
    if out.get("wall_timeout") or out.get("signal"):
        return True
    report = out.get("report") or {}
    if report.get("ok"):
        return False
    if report.get("assertion_failed"):
        return False  # a wrong answer; a later runtime error would still change the reward
    if fmt == "stdin" and report.get("phase") == "done":
        return bool(report.get("exc_type"))
    return True if report else (out.get("exit_status") != 0)


def _has_exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pid: int) -> None:
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_bounded(path: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except OSError:
        return b""


def _preload() -> None:
    """Import what programs commonly import, once, so each forked test does not."""
    # Kept to what the harness and the call-based prelude need plus the commonest imports:
    # each extra megabyte of worker memory makes every fork slower for every program.
    import bisect, collections, functools, heapq, itertools, json, math, re, string, typing  # noqa: F401,E401
    import threading, traceback, io, atexit, time  # noqa: F401,E401
    from . import harness, tracing  # noqa: F401

    harness.prelude_namespace("call")


def main() -> None:
    _raise_stack_limit_and_reexec()
    base_dir, read_roots = sys.argv[1], sys.argv[2].split(os.pathsep) if len(sys.argv) > 2 else []
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    _preload()
    worker = Worker(base_dir, read_roots)
    import gc
    gc.collect()
    gc.freeze()  # children then never touch (copy) the worker's objects when their GC runs
    write_message(out_fd, {"ready": True, "layers": worker.layers, "pid": os.getpid()})
    while True:
        request = read_message(in_fd)  # {"jobs": [...]}: several jobs per round trip
        if request is None:
            break
        write_message(out_fd, {"results": [worker.run_job(job) for job in request["jobs"]]})
    shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
