"""A sandbox worker: a trusted supervisor, and a clean zygote that forks every test's processes.

Started by ``Executor`` as ``python -m stepcoder_lib.executor.worker BASE_DIR ROOTS UID`` with
a fixed, minimal environment. It reads jobs (pickled, length-prefixed) on fd 0 and answers on
fd 1 with raw outcomes; the parent judges.

Two processes per worker:

* the **supervisor** (this process after start-up) holds jobs: it writes each test's spec and
  input to unlinked files, runs the test under a wall-clock deadline, reads what the program
  printed from descriptors it opened itself, so nothing the program does to its directory
  (symlinks, FIFOs) can redirect or block that read, and runs assert-style test code itself
  (``harness.run_judge``), talking to the program's process in plain data only;
* the **zygote**, forked before the first job arrives, never holds job data: it receives only
  file descriptors, forks the test's process and reports how it ended (``wait4``). A program
  therefore finds no other job's or test's data in its memory, and forking from a small,
  pre-warmed process costs ~1 ms instead of a fresh interpreter's ~20 ms.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import resource
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

_STACK_ENV = "STEPCODER_WORKER_STACK_SET"
_STACK_BYTES = 1 << 30  # main-thread stack reserve for deep recursion (set before exec)
_HEADER = struct.Struct("<Q")
_PR_SET_PDEATHSIG = 1


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


class WorkerFault(RuntimeError):
    """The worker's own machinery failed: it exits and the executor starts a new one."""


# --- cleaning up after a program ---------------------------------------------------------------
def clear_dir(path: str) -> int:
    """Remove everything inside ``path`` without recursion and without following links.

    Nested directories are hoisted to the top before removal, so a tree 3,000 levels deep costs
    two open descriptors and no stack; symlinks, FIFOs and sockets are unlinked, never opened.
    Returns the number of entries removed.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    root = os.open(path, flags)
    removed, serial = 0, 0
    try:
        while True:
            with os.scandir(root) as it:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            if not entries:
                return removed
            for name, is_dir in entries:
                if not is_dir:
                    os.unlink(name, dir_fd=root)
                    removed += 1
                    continue
                try:
                    sub = os.open(name, flags, dir_fd=root)
                except PermissionError:  # not root: give ourselves the permission back
                    os.chmod(name, 0o700, dir_fd=root)
                    sub = os.open(name, flags, dir_fd=root)
                try:
                    with os.scandir(sub) as it:
                        inner = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
                    for child, child_is_dir in inner:
                        if child_is_dir:
                            serial += 1
                            os.rename(child, f".hoisted-{serial}-{removed}", src_dir_fd=sub, dst_dir_fd=root)
                        else:
                            os.unlink(child, dir_fd=sub)
                            removed += 1
                finally:
                    os.close(sub)
                os.rmdir(name, dir_fd=root)
                removed += 1
    finally:
        os.close(root)


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything under it (see ``clear_dir``); a missing path is fine."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    import stat
    if stat.S_ISDIR(st.st_mode):
        try:
            clear_dir(path)
        except PermissionError:
            os.chmod(path, 0o700)
            clear_dir(path)
        os.rmdir(path)
    else:
        os.unlink(path)


# --- the zygote ---------------------------------------------------------------------------------
class ZygoteContext:
    """What the zygote prepares once and every test process inherits (no job data)."""

    def __init__(self, read_roots: list[str], uid: int | None) -> None:
        from . import sandbox

        unprivileged = uid is not None
        self.uid = uid
        self.landlock = sandbox.LandlockRules.open(read_roots)
        self.landlock_fds = [] if self.landlock is None else [*self.landlock.read_fds, self.landlock.dev_null_fd]
        signal_scoped = self.landlock is not None and self.landlock.abi >= 6
        self.seccomp = sandbox.compiled_seccomp_filter() if signal_scoped else None
        # without Landlock's signal scoping the filter names the test's pid: built in each test
        # (importing pyseccomp here, with the after-fork cost described in compiled_seccomp_filter)
        self.seccomp_per_child = not signal_scoped and sandbox.build_seccomp_filter(0) is not None
        self.path_fds = list(sandbox.reroute_unreachable_paths().values()) if unprivileged else []
        sandbox.set_default_thread_stack()
        self.baseline_as = sandbox.current_address_space()
        self.rulesets: dict[str, int] = {}  # role -> Landlock ruleset fd (the program's follows its directory)
        self.program_dir: tuple[int, int] | None = None
        self.layers = ["process", "rlimits"] + (["landlock"] if self.landlock else []) + (
            ["seccomp"] if (self.seccomp is not None or self.seccomp_per_child) else []) + (
            ["unprivileged"] if unprivileged else [])

    def prepare(self, dir_fd: int | None) -> None:
        """In the zygote, before forking: the program's ruleset for this test directory."""
        if self.landlock is None or dir_fd is None:
            return
        st = os.fstat(dir_fd)
        if (st.st_dev, st.st_ino) != self.program_dir:  # rules hold the directory itself
            old = self.rulesets.pop("program", None)
            if old is not None:
                os.close(old)
            self.rulesets["program"] = self.landlock.build_ruleset(dir_fd)
            self.program_dir = (st.st_dev, st.st_ino)


def _fork_spare(sock: socket.socket, ctx: ZygoteContext) -> tuple[int, socket.socket]:
    """A test process forked ahead of time (``harness.await_test``) and the channel to hand it its test."""
    from . import harness

    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        mine.close()
        sock.close()  # the supervisor must see the zygote's channel close when the zygote dies
        harness.await_test(theirs, ctx)
    theirs.close()
    return pid, mine


def zygote_main(sock: socket.socket, ctx: ZygoteContext) -> None:
    """Hand each test to a pre-forked process; report how each ended. Never returns."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the supervisor
    except Exception:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spare = _fork_spare(sock, ctx)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 64)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        [(role, mapping)] = json.loads(msg)
        if role == "program" and "dir" in mapping:
            ctx.prepare(fds[mapping["dir"]])  # for the spares forked from now on
        for _attempt in range(2):
            pid, channel = spare
            try:
                socket.send_fds(channel, [json.dumps([role, mapping]).encode()], fds)
                break
            except OSError:  # the spare died (it should not): fork another and hand the test to it
                channel.close()
                spare = _fork_spare(sock, ctx)
        channel.close()
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        socket.send_fds(sock, [json.dumps([pid]).encode()], [pidfd])
        os.close(pidfd)
        spare = _fork_spare(sock, ctx)  # while this test runs
        _, status, ru = os.wait4(pid, 0)
        sock.send(json.dumps({"pid": pid, "status": status, "cpu_s": ru.ru_utime + ru.ru_stime,
                              "max_rss_kb": ru.ru_maxrss}).encode())
        with contextlib.suppress(ChildProcessError):  # a spare that died on its own
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


# --- the supervisor -----------------------------------------------------------------------------
class Worker:
    def __init__(self, base_dir: str, read_roots: list[str], uid: int | None, parent_fds: tuple[int, ...] = ()) -> None:
        self.base_dir = base_dir
        self.uid = uid if (uid is not None and os.geteuid() == 0) else None
        self.test_dir = os.path.join(base_dir, "t")
        self.private_dir = os.path.join(base_dir, "p")  # the worker's own files: never the program's
        remove_tree(base_dir)  # whatever a previous worker in this place left
        os.makedirs(base_dir)
        os.chmod(base_dir, 0o711)  # searchable, not listable: the program may use absolute paths
        os.mkdir(self.private_dir, 0o700)
        self._make_test_dir()
        self.ctx = ZygoteContext(read_roots, self.uid)
        import builtins
        self.pristine_builtins = dict(builtins.__dict__)  # each assert test gets a fresh copy
        self.layers = self.ctx.layers
        gc.collect()
        gc.freeze()  # children then never touch (copy) these objects when their GC runs
        self.sock, zsock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.zygote = os.fork()
        if self.zygote == 0:
            self.sock.close()
            for fd in parent_fds:  # the pipes to the executor: the zygote must not keep them open
                _close_quietly(fd)
            zygote_main(zsock, self.ctx)
        zsock.close()

    def _make_test_dir(self) -> None:
        os.mkdir(self.test_dir, 0o700)
        if self.uid is not None:
            os.chown(self.test_dir, self.uid, self.uid)

    def _reset_test_dir(self) -> None:
        """Empty the test directory; if that fails in any way, replace it."""
        try:
            clear_dir(self.test_dir)
            st = os.lstat(self.test_dir)
            if self.uid is not None and (st.st_uid != self.uid or st.st_mode & 0o777 != 0o700):
                os.chmod(self.test_dir, 0o700)
            return
        except OSError:
            pass
        trash = os.path.join(self.base_dir, f"trash-{time.monotonic_ns()}")
        os.rename(self.test_dir, trash)
        with contextlib.suppress(OSError):  # what resists stays out of the way until the worker exits
            remove_tree(trash)
        self._make_test_dir()

    # files the program cannot name ------------------------------------------------------
    def _tmpfile(self, data: bytes = b"") -> int:
        """An anonymous file (memfd: no path, no disk; RLIMIT_FSIZE still bounds writes to it)."""
        try:
            fd = os.memfd_create("stepcoder", os.MFD_CLOEXEC)
        except (OSError, AttributeError):
            import tempfile
            fd, path = tempfile.mkstemp(dir=self.private_dir)
            os.unlink(path)
        if data:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        return fd

    def _read_only(self, data: bytes) -> int:
        fd = self._tmpfile(data)
        ro = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
        os.close(fd)
        return ro

    # one job ---------------------------------------------------------------------------
    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        outcomes: list[dict[str, Any]] = []
        started = time.monotonic()
        n = len(job["inputs"])
        for i in range(n):
            if time.monotonic() - started > job["program_wall_s"]:
                outcomes.append({"index": i, "status": "skipped", "reason": "program time budget exhausted"})
                continue
            out = self.run_test(job, i)
            outcomes.append(out)
            if (out.get("report") or {}).get("phase") == "compile" and not (out.get("report") or {}).get("ok"):
                break  # a compile error fails every test the same way
            if job["early_stop"] and _settles_verdict(out, job["format"]):
                outcomes += [{"index": j, "status": "skipped", "reason": "verdict already settled"}
                             for j in range(i + 1, n)]
                break
        return {"outcomes": outcomes, "layers": self.layers, "wall_s": time.monotonic() - started}

    def run_test(self, job: dict[str, Any], index: int) -> dict[str, Any]:
        fmt = job["format"]
        cpu_limit, wall_limit = job["cpu_limit_s"], job["wall_limit_s"]
        message_limit = job["output_limit"] + (1 << 20)
        spec = {"format": fmt, "program": job["program"], "fn_name": job["fn_name"], "prelude": job["prelude"],
                "args": job["inputs"][index] if fmt == "call" else None, "cpu_limit_s": cpu_limit,
                "memory_bytes": job["memory_bytes"], "output_limit": job["output_limit"], "coverage": job["coverage"],
                # RLIMIT_NPROC counts every process of the user: only meaningful for the sandbox's own user
                "max_threads": job["max_threads"] if self.uid is not None else None, "dir_path": self.test_dir,
                "message_limit": message_limit}
        opened: list[int] = []

        def keep(fd: int) -> int:
            opened.append(fd)
            return fd

        try:
            stdout = keep(self._tmpfile())
            stderr = keep(self._tmpfile())
            # executed lines as they are first hit (one byte per line): what survives a test killed at its limit
            lines = keep(self._tmpfile()) if job["coverage"] else None
            report_r, report_w = os.pipe()
            keep(report_r), keep(report_w)
            os.set_blocking(report_r, False)
            program_fds = {"spec": keep(self._tmpfile(pickle.dumps(spec))),
                           "stdin": keep(self._read_only(job["inputs"][index].encode("utf-8", "surrogatepass")
                                                          if fmt == "stdin" else b"")),
                           "stdout": stdout, "stderr": stderr, "report": report_w,
                           "dir": keep(os.open(self.test_dir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW))}
            readers = [report_r]
            requests_w = answers_r = None
            if fmt == "assert":
                requests_r, requests_w = os.pipe()
                answers_r, answers_w = os.pipe()
                for fd in (requests_r, requests_w, answers_r, answers_w):
                    keep(fd)
                os.set_blocking(requests_w, False)
                os.set_blocking(answers_r, False)
                program_fds.update({"in": requests_r, "out": answers_w})
            if lines is not None:
                program_fds["lines"] = lines
            t0 = time.monotonic()
            pids, pidfds = self._spawn([("program", program_fds)])
            for name, fd in program_fds.items():  # the child's ends: only it holds them now
                if name not in ("stdout", "stderr", "lines"):
                    _close_quietly(fd)
                    opened.remove(fd)
            clock = _Clock(t0 + wall_limit, wall_limit, cpu_limit, pids[0], self.test_dir, job.get("disk_limit"))
            judged = None
            if requests_w is not None and answers_r is not None:  # assert-style: the judge runs here
                judged = self._judge(job, index, requests_w, answers_r, pidfds[0], clock, message_limit)
                _close_quietly(requests_w)  # the program's process sees the end of the requests
                opened.remove(requests_w)
            reports, timed_out, overflow = self._supervise(pidfds, readers, clock, message_limit)
            for fd in pidfds:
                os.close(fd)
            ended = self._collect(pids)
            wall = time.monotonic() - t0
            program = ended[pids[0]]
            status = program["status"]
            out: dict[str, Any] = {
                "index": index, "status": "finished", "wall_s": wall, "cpu_s": program["cpu_s"],
                "max_rss_kb": program["max_rss_kb"], "disk_exceeded": clock.disk_exceeded,
                "wall_timeout": (timed_out or clock.expired) and not (clock.disk_exceeded or clock.cpu_exceeded),
                "report_overflow": overflow,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "exit_status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "stdout": os.pread(stdout, job["output_limit"] + 1, 0),
                "stderr": os.pread(stderr, job["excerpt_chars"] * 4, 0),
                "report": _parse(reports[0]),
            }
            if lines is not None:  # bounded: one byte per line of the program
                out["lines_seen"] = os.pread(lines, job["program"].count("\n") + 2, 0)
            if judged is not None:
                out["judge"] = judged
            return out
        finally:
            for fd in opened:
                _close_quietly(fd)
            self._reset_test_dir()

    def _spawn(self, children: list[tuple[str, dict[str, int]]]) -> tuple[list[int], list[int]]:
        fds: list[int] = []
        layout = []
        for role, mapping in children:
            idx = {}
            for name, fd in mapping.items():
                idx[name] = len(fds)
                fds.append(fd)
            layout.append([role, idx])
        socket.send_fds(self.sock, [json.dumps(layout).encode()], fds)
        if not select.select([self.sock], [], [], 30.0)[0]:
            raise WorkerFault("the zygote did not answer")
        msg, pidfds, _, _ = socket.recv_fds(self.sock, 4096, 8)
        if not msg:
            raise WorkerFault("the zygote exited")
        pids = json.loads(msg)
        if len(pids) != len(children) or len(pidfds) != len(children):
            raise WorkerFault("the zygote answered out of turn")
        return pids, pidfds

    def _collect(self, pids: list[int]) -> dict[int, dict[str, Any]]:
        ended: dict[int, dict[str, Any]] = {}
        while len(ended) < len(pids):
            if not select.select([self.sock], [], [], 30.0)[0]:
                raise WorkerFault("the zygote did not report a test's end")
            msg = self.sock.recv(4096)
            if not msg:
                raise WorkerFault("the zygote exited")
            info = json.loads(msg)
            ended[info["pid"]] = info
        return ended

    def _judge(self, job: dict[str, Any], index: int, out_fd: int, in_fd: int, pidfd: int, clock: _Clock,
               limit: int) -> dict[str, Any]:
        from . import harness

        poller = select.poll()
        poller.register(pidfd, select.POLLIN)

        def wait(fd: int, write: bool = False) -> None:
            poller.register(fd, select.POLLOUT if write else select.POLLIN)
            try:
                while True:
                    timeout = clock.remaining()
                    if timeout is None:
                        raise harness.ProgramGone("the test ran past its time limit")
                    ready = dict(poller.poll(timeout * 1000))
                    if fd in ready:
                        return
                    if pidfd in ready:  # the program's process ended: only buffered answers remain
                        if write or not select.select([fd], [], [], 0)[0]:
                            raise harness.ProgramGone("the program's process ended during the test")
                        return
            finally:
                poller.unregister(fd)

        channel = harness._Channel(limit, out_fd, in_fd, wait)
        spec = {"setup_code": job["setup_code"], "test_code": job["inputs"][index]}
        return harness.run_judge(spec, channel, self.pristine_builtins)

    def _supervise(self, pidfds: list[int], readers: list[int], clock: _Clock,
                   limit: int) -> tuple[list[bytes], bool, bool]:
        """Read the reports until every process has ended; kill at the wall-clock deadline."""
        data = [bytearray() for _ in readers]
        open_readers = set(range(len(readers)))
        running = set(range(len(pidfds)))
        timed_out = overflow = False
        grace_until = None
        while running or open_readers:
            timeout = clock.remaining()
            if timeout is None:
                timed_out = bool(running)
                break
            if grace_until is not None:
                timeout = grace_until - time.monotonic()
                if timeout <= 0:
                    break
            watch = [readers[i] for i in open_readers] + [pidfds[i] for i in running]
            ready = select.select(watch, [], [], timeout)[0]
            for i in list(open_readers):
                if readers[i] in ready:
                    try:
                        chunk = os.read(readers[i], 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        open_readers.discard(i)
                    elif len(data[i]) + len(chunk) > limit:
                        overflow = True
                        break
                    else:
                        data[i] += chunk
            if overflow:
                break
            for i in list(running):
                if pidfds[i] in ready:
                    running.discard(i)
                    if not running and grace_until is None:
                        grace_until = time.monotonic() + 0.5  # a leaked descriptor must not hold us
        for fd in pidfds:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        return [bytes(d) for d in data], timed_out, overflow


class _Clock:
    """A test's wall-clock deadline, moved while the program is starved of CPU rather than idle.

    A program still gaining CPU time at the deadline is being held back by a loaded machine, not
    sleeping: its deadline moves (up to four windows in all), so load cannot turn into a timeout.
    Every quarter second it also looks at the program from outside: past 1.2x its CPU limit (a
    program that ignores SIGXCPU) it is stopped; and files in the test directory may live in
    memory (tmpfs), which the address-space limit does not count, so past ``disk_limit`` bytes
    the test ends too (reported as over its disk limit).
    """

    CHECK_S = 0.25

    def __init__(self, deadline: float, window: float, cpu_limit: float, pid: int,
                 test_dir: str | None = None, disk_limit: int | None = None) -> None:
        self.deadline, self.window, self.cpu_limit, self.pid = deadline, window, cpu_limit, pid
        self.hard = deadline + 3 * window
        self.last_cpu, self.last_check = 0.0, time.monotonic()
        self.expired = self.disk_exceeded = self.cpu_exceeded = False
        self.test_dir, self.disk_limit = test_dir, disk_limit
        self.next_check = self.last_check + self.CHECK_S

    def _look(self) -> bool:
        """True when the program must stop now (over its CPU or disk allowance)."""
        cpu = _process_cpu(self.pid)
        if cpu is not None and cpu > self.cpu_limit * 1.2 + 0.1:
            self.cpu_exceeded = True
        elif self.disk_limit is not None and self.test_dir is not None:
            self.disk_exceeded = dir_usage(self.test_dir, self.disk_limit) > self.disk_limit
        return self.cpu_exceeded or self.disk_exceeded

    def remaining(self) -> float | None:
        """Seconds left (> 0), or None once the test must end."""
        if self.expired:
            return None
        now = time.monotonic()
        if now >= self.next_check:
            if self._look():
                self.expired = True
                return None
            self.next_check = time.monotonic() + self.CHECK_S
        if now < self.deadline:
            return max(1e-3, min(self.deadline, self.next_check) - now)
        cpu = _process_cpu(self.pid)
        starved = (cpu is not None and cpu < self.cpu_limit and now < self.hard
                   and cpu - self.last_cpu >= 0.05 * (now - self.last_check))
        if not starved or cpu is None:
            self.expired = True
            return None
        self.last_cpu, self.last_check = cpu, now
        self.deadline = min(self.hard, now + max(1.0, self.window / 2))
        return self.deadline - now


def dir_usage(path: str, stop_above: int) -> int:
    """Bytes held by files under ``path`` (without recursion; stops counting above ``stop_above``)."""
    total, stack = 0, [path]
    while stack and total <= stop_above:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    total += st.st_blocks * 512 + 4096  # an entry costs memory even when empty
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a running process (from /proc), None if unavailable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _parse(data: bytes) -> dict[str, Any] | None:
    """A report as a dict, or None when it is not one (missing, cut short, forged garbage)."""
    if not data:
        return None
    try:
        report = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return report if isinstance(report, dict) else None


def _settles_verdict(out: dict[str, Any], fmt: str) -> bool:
    """After a runtime-family failure the program's verdict cannot change: later tests can stop."""
    if out.get("wall_timeout") or out.get("signal"):
        return True
    report = out.get("report") or {}
    if fmt == "assert":
        return (out.get("judge") or {}).get("status") not in ("passed", "assertion")
    if report.get("ok"):
        return False
    if fmt == "stdin" and report.get("phase") == "done":
        return bool(report.get("exc_type"))
    return True if report else (out.get("exit_status") != 0)


def _preload() -> None:
    """Import what programs commonly import, once, so each forked test does not."""
    # Kept to what the harness needs plus the commonest imports: each extra megabyte of worker
    # memory makes every fork slower for every program. Never ``threading`` or ``random``
    # (``tempfile`` imports it): their after-fork hooks cost each forked test 0.3 and 0.1 ms of
    # CPU, more than importing them in the few programs that use them.
    import bisect  # noqa: F401
    import traceback  # noqa: F401

    from . import harness, tracing, values

    for hooked in ("threading", "random"):
        assert hooked not in sys.modules, f"{hooked} must not be imported before the zygote forks"
    _warm_up(harness, tracing, values)


def _warm_up(harness: Any, tracing: Any, values: Any) -> None:
    """Run the test-side code paths a few times before forking the zygote.

    Python 3.11 specialises bytecode in place as it runs: code first run in a forked test would be
    rewritten there (copying its pages) in every test; run here, the tests inherit it specialised.
    """
    sample = '''from typing import List


def f(xs: List[int]) -> int:
    """A docstring."""
    total, k = 0, 0
    for x in xs:
        if x % 2:
            total += x
        elif x > 100:
            break
        else:
            total -= 1
    while k < 3:
        k += 1
    else:
        total += k
    try:
        total //= len(xs) - len(xs)
    except ZeroDivisionError:
        total = -total
    finally:
        total += 1
    with open(__file__ if False else "/dev/null") as fh:
        fh.read(0)
    return total + sum(y * y for y in xs if y) + len([y for y in xs]) + (lambda z: z)(1)


def gen(n):
    yield from range(n)


class A:
    def g(self):
        def inner(v):
            return {v: [v, (v, v)]}
        return [f(list(gen(9))), {'k': (1.5, None)}, inner(2), {i: i for i in range(3)}]
'''
    for _ in range(20):
        tracer = tracing.LineTracer("<warm-up>")
        namespace: dict[str, Any] = {}
        exec(tracer.instrument(compile(sample, "<warm-up>", "exec")), namespace)
        value = namespace["A"]().g()
        tracer.stop()
        node = values.encode(value)
        values.decode(json.loads(json.dumps(node)), plain=True)
        values.decode(node)


def main() -> None:
    _raise_stack_limit_and_reexec()
    base_dir = sys.argv[1]
    read_roots = sys.argv[2].split(os.pathsep) if len(sys.argv) > 2 and sys.argv[2] else []
    uid = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] not in ("", "none") else None
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.set_int_max_str_digits(0)
    _preload()
    worker = Worker(base_dir, read_roots, uid, (in_fd, out_fd))
    write_message(out_fd, {"ready": True, "layers": worker.layers, "pid": os.getpid()})
    try:
        while True:
            request = read_message(in_fd)  # {"jobs": [...]}: several jobs per round trip
            if request is None:
                break
            write_message(out_fd, {"results": [worker.run_job(job) for job in request["jobs"]]})
    finally:
        with contextlib.suppress(OSError):
            os.kill(worker.zygote, signal.SIGKILL)
        remove_tree(base_dir)
        with contextlib.suppress(OSError):  # the executor's folder, if it died without closing: last one out
            os.rmdir(os.path.dirname(base_dir))


if __name__ == "__main__":
    main()
