"""OS-level confinement applied inside each test's process, just before the program runs.

Layers (each reported by name in ``ExecutionResult.sandbox`` when active):

* ``rlimits``: CPU seconds (SIGXCPU, then SIGKILL), address space, output file size, no core
  files; a CPU interval timer gives sub-second precision on top of RLIMIT_CPU's whole seconds.
  Every capability is dropped first, so even a program run as root cannot raise them again.
* ``landlock`` (Linux >= 5.13): the filesystem is read-only except the test's own temporary
  directory, and only the interpreter's and the system's directories can be read at all (so a
  program cannot read the dataset's expected answers from disk); with Landlock ABI >= 4 no TCP
  bind/connect, with ABI >= 6 no signals to processes outside the sandbox.
* ``seccomp`` (libseccomp through ``pyseccomp``): no fork/vfork/clone of processes (threads are
  allowed), no execve, no sockets of any family, no ptrace, mount, namespaces, kernel modules,
  bpf, process_vm_* or kill/tgkill aimed at other processes; no memory the address-space limit
  does not count (memfd_create, System V and POSIX shared memory and message queues).
* ``unprivileged`` (when the executor runs as root): the program runs as ``sandbox_uid``
  (nobody), with no supplementary groups, so root-only files stay closed even where Landlock
  allows reading their directory.

Landlock is driven through its three system calls with ctypes: it is a small, stable kernel ABI
and the Python bindings on PyPI are pre-releases. Where a layer is unavailable (another OS, an
old kernel, no libseccomp) the executor still runs and says so in ``sandbox``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import resource
import signal
import sys
from dataclasses import dataclass
from typing import Any

# --- Landlock (include/uapi/linux/landlock.h) -----------------------------------------------
_SYS_LANDLOCK_CREATE_RULESET = 444  # same number on x86_64 and aarch64 (generic syscall table)
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is absent or disabled."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    r = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                      ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(r), 0)


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def default_read_roots() -> list[str]:
    """Directories a Python program legitimately reads: the interpreter, its packages, the OS."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    roots |= {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt/conda",
              "/dev", "/proc", "/sys"}
    import site  # lazy: a sandbox process imports only what it uses
    for p in list(getattr(site, "getsitepackages", lambda: [])()) + [site.getusersitepackages()]:
        roots.add(p)
    real = sorted(p for p in {os.path.realpath(r) for r in roots} if os.path.isdir(p))
    return [p for p in real if not any(p.startswith(q.rstrip("/") + "/") for q in real if q != p)]  # drop nested


@dataclass
class LandlockRules:
    """Pre-opened directory handles (opened once in the worker, reused by every test process)."""

    abi: int
    read_fds: list[int]
    dev_null_fd: int

    @classmethod
    def open(cls, read_roots: list[str]) -> LandlockRules | None:
        abi = landlock_abi()
        if abi <= 0:
            return None
        fds = [os.open(p, os.O_PATH | os.O_CLOEXEC) for p in read_roots]
        return cls(abi=abi, read_fds=fds, dev_null_fd=os.open("/dev/null", os.O_PATH | os.O_CLOEXEC))

    def restrict_self(self, writable_dir: str | None) -> None:
        """Confine this process; ``writable_dir`` is the only place it may create or change files."""
        fd = os.open(writable_dir, os.O_PATH) if writable_dir else None
        ruleset = self.build_ruleset(fd)
        self.enforce(ruleset)
        os.close(ruleset)
        if fd is not None:
            os.close(fd)

    def enforce(self, ruleset: int) -> None:
        """Confine this process with a ruleset built earlier (the worker builds it once)."""
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS) failed")
        if _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")

    def build_ruleset(self, writable_fd: int | None) -> int:
        """A Landlock ruleset (an fd): read-only roots plus one writable directory (an open fd), if any."""
        handled = _handled_fs(self.abi)
        attr = _RulesetAttr(handled_access_fs=handled,
                            handled_access_net=(NET_BIND_TCP | NET_CONNECT_TCP) if self.abi >= 4 else 0,
                            scoped=(SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET) if self.abi >= 6 else 0)
        size = 24 if self.abi >= 6 else (16 if self.abi >= 4 else 8)
        ruleset = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                                ctypes.c_uint32(0))
        if ruleset < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
        rules = [(fd, _READ) for fd in self.read_fds]
        rules += [(self.dev_null_fd, (FS_READ_FILE | FS_WRITE_FILE) & handled)]
        if writable_fd is not None:
            rules.append((writable_fd, handled))
        for fd, access in rules:
            rule = _PathBeneathAttr(allowed_access=access & handled, parent_fd=fd)
            if _libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
                             ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                raise OSError(ctypes.get_errno(), "landlock_add_rule failed")
        return ruleset


# --- seccomp ---------------------------------------------------------------------------------
_CLONE_THREAD = 0x00010000
_DENIED_SYSCALLS = (
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "reboot", "kexec_load",
    "init_module", "finit_module", "delete_module", "bpf", "perf_event_open", "keyctl",
    "add_key", "request_key", "userfaultfd", "io_uring_setup", "swapon", "swapoff",
    "open_by_handle_at", "name_to_handle_at",
    # memory that RLIMIT_AS does not count, or that outlives the process
    "memfd_create", "memfd_secret", "shmget", "shmat", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr", "socket", "socketpair",
)


def build_seccomp_filter(pid_for_signals: int | None = None) -> Any | None:
    """A seccomp filter (not yet loaded) or None when libseccomp is unavailable.

    ``pid_for_signals``: when Landlock cannot scope signals, kill/tgkill may only target this pid.
    """
    try:
        import pyseccomp as sc  # lazy: a sandbox process imports only what it uses
        f = sc.SyscallFilter(sc.ALLOW)
    except Exception:  # ImportError, or libseccomp.so missing (RuntimeError/OSError)
        return None
    eperm = sc.ERRNO(errno.EPERM)
    for name in _DENIED_SYSCALLS:
        with contextlib.suppress(Exception):  # a syscall unknown on this architecture
            f.add_rule(eperm, name)
    f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))  # processes, not threads
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc falls back to clone(), which we can inspect
    if pid_for_signals is not None:
        f.add_rule(eperm, "kill", sc.Arg(0, sc.NE, pid_for_signals))
        f.add_rule(eperm, "tgkill", sc.Arg(0, sc.NE, pid_for_signals))
        f.add_rule(eperm, "tkill")
    return f


class CompiledFilter:
    """A seccomp filter compiled to BPF once, loaded in each test process with one prctl.

    libseccomp regenerates the BPF program on every ``load()`` (~0.5 ms); a test costs ~3 ms, so
    the worker compiles once and each child installs the bytes directly.
    """

    _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2

    class _SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    def __init__(self, code: bytes) -> None:
        if not code or len(code) % 8:
            raise ValueError("libseccomp exported no usable BPF program")
        self._buf = ctypes.create_string_buffer(code, len(code))
        self._prog = self._SockFprog(len(code) // 8, ctypes.cast(self._buf, ctypes.c_void_p))

    def load(self) -> None:
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS) failed")
        if _libc.prctl(self._PR_SET_SECCOMP, self._SECCOMP_MODE_FILTER, ctypes.byref(self._prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def compiled_seccomp_filter() -> CompiledFilter | None:
    """The pid-independent filter, precompiled; None when libseccomp is unavailable.

    Compiled in a short-lived forked helper: ``pyseccomp`` imports ``ctypes.util``, which imports
    ``threading`` and ``random``, whose after-fork hooks would cost every later fork of this
    process (every test) 0.4 ms of CPU.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: never returns
        try:
            os.close(r)
            filt = build_seccomp_filter(None)
            if filt is not None:
                with os.fdopen(os.memfd_create("bpf"), "w+b") as fh:
                    filt.export_bpf(fh)
                    fh.seek(0)
                    code = fh.read()
                while code:
                    code = code[os.write(w, code):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 1 << 16):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    try:
        return CompiledFilter(b"".join(chunks))
    except ValueError:
        return None


# --- capabilities ----------------------------------------------------------------------------
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(platform.machine())
_CAP_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> bool:
    """Give up every capability (a no-op for ordinary users).

    Run as root, a program could otherwise raise its own hard resource limits back up
    (CAP_SYS_RESOURCE) and escape the memory and CPU limits.
    """
    if _SYS_CAPSET is None:
        return False
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    return _libc.syscall(_SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)) == 0


# --- resource limits -------------------------------------------------------------------------
def current_address_space() -> int:
    """Virtual size of this process in bytes (the baseline the memory budget is added to)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _Sigevent(ctypes.Structure):  # struct sigevent (64 bytes on Linux)
    _fields_ = [("sigev_value", ctypes.c_void_p), ("sigev_signo", ctypes.c_int), ("sigev_notify", ctypes.c_int),
                ("_pad", ctypes.c_int * 12)]


_CLOCK_PROCESS_CPUTIME_ID, _SIGEV_SIGNAL = 2, 0


def start_cpu_timer(cpu_s: float) -> bool:
    """SIGXCPU once this process has used ``cpu_s`` seconds of CPU, on the precise scheduler clock.

    ``ITIMER_PROF`` and ``RLIMIT_CPU`` sample CPU time at timer ticks, which under load charges a
    process more than it used (a 1 s timer fired at 0.74 s of measured CPU with 8 workers on 2
    cores); a POSIX timer on ``CLOCK_PROCESS_CPUTIME_ID`` counts what ``wait4`` reports.
    """
    try:
        sev = _Sigevent(sigev_signo=signal.SIGXCPU, sigev_notify=_SIGEV_SIGNAL)
        timer = ctypes.c_void_p()
        if _libc.timer_create(_CLOCK_PROCESS_CPUTIME_ID, ctypes.byref(sev), ctypes.byref(timer)) != 0:
            return False
        whole = int(cpu_s)
        spec = _Itimerspec(it_value=_Timespec(whole, max(1, int((cpu_s - whole) * 1e9))))
        return _libc.timer_settime(timer, 0, ctypes.byref(spec), None) == 0
    except (AttributeError, OSError):
        return False


def apply_rlimits(cpu_s: float, address_space: int | None, output_bytes: int, max_files: int = 256,
                  max_threads: int | None = None) -> None:
    """CPU, memory, output and file limits for this process (called after fork).

    The CPU limit is the precise timer above; RLIMIT_CPU (tick-sampled) is only a backstop well
    above it, for a program that ignores SIGXCPU (the hard limit is SIGKILL).
    """
    precise = start_cpu_timer(cpu_s)
    whole = int(cpu_s * 1.5) + 2 if precise else int(cpu_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (whole, whole + 1))
    if not precise:
        signal.setitimer(signal.ITIMER_PROF, cpu_s)
    if address_space is not None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max_files, hard), min(max_files, hard)))
    if max_threads is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (max_threads, max_threads))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write raises OSError(EFBIG)


def set_parent_death_signal() -> None:
    """SIGKILL this process when its parent (the zygote) dies: no test outlives its worker."""
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


# --- unprivileged user -----------------------------------------------------------------------
def become_user(uid: int, gid: int) -> None:
    """Drop root for ``uid``/``gid`` with no supplementary groups (every capability goes with it)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _world_searchable(path: str) -> bool:
    """True when a user who owns nothing on the way can reach ``path`` (every ancestor has o+x)."""
    path = os.path.abspath(path)
    while True:
        try:
            st = os.stat(path)
        except OSError:
            return False
        if not st.st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def reroute_unreachable_paths() -> dict[str, int]:
    """Make import paths that an unprivileged user cannot reach usable through /proc/self/fd.

    An interpreter installed under a private directory (pyenv in ``/root``) would lose every
    import not yet made once the program runs as nobody. Each such ``sys.path`` entry is opened
    here (as root) and replaced by ``/proc/self/fd/N``, which a process may always follow for its
    own descriptors; package search paths are rewritten the same way. Returns {path: fd}.
    """
    import importlib  # lazy: a sandbox process imports only what it uses

    fds: dict[str, int] = {}
    import fcntl  # lazy: a sandbox process imports only what it uses

    for entry in list(sys.path):
        if entry and os.path.isdir(entry) and not _world_searchable(entry) and entry not in fds:
            fd = os.open(entry, os.O_PATH | os.O_DIRECTORY)
            fds[entry] = fcntl.fcntl(fd, fcntl.F_DUPFD, 200)  # out of the way of the test's own descriptors
            os.close(fd)
    if not fds:
        return fds
    by_length = sorted(fds, key=len, reverse=True)

    def moved(p: str) -> str:
        for root in by_length:
            if p == root or p.startswith(root + os.sep):
                return f"/proc/self/fd/{fds[root]}{p[len(root):]}"
        return p

    sys.path[:] = [moved(p) for p in sys.path]
    for module in list(sys.modules.values()):
        path = getattr(module, "__path__", None)
        if isinstance(path, list):
            path[:] = [moved(p) if isinstance(p, str) else p for p in path]
        spec = getattr(module, "__spec__", None)
        locations = getattr(spec, "submodule_search_locations", None)
        if isinstance(locations, list):
            locations[:] = [moved(p) if isinstance(p, str) else p for p in locations]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    return fds


def set_default_thread_stack(size: int = 16 << 20) -> bool:
    """Threads started without an explicit size get ``size`` bytes of stack.

    glibc otherwise gives every thread the main thread's RLIMIT_STACK (1 GiB here, for deep
    recursion), so two threads would not fit in the address-space limit.
    """
    try:
        attr = ctypes.create_string_buffer(128)  # pthread_attr_t is 56 bytes on x86_64/aarch64
        if _libc.pthread_attr_init(attr) != 0:
            return False
        ok = _libc.pthread_attr_setstacksize(attr, ctypes.c_size_t(size)) == 0
        ok = ok and _libc.pthread_setattr_default_np(attr) == 0
        _libc.pthread_attr_destroy(attr)
        return ok
    except AttributeError:
        return False
