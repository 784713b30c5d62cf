"""The executor: a pool of sandbox workers, a batch API, and the judge.

Typical use::

    with Executor(ExecutorConfig(coverage=True)) as ex:
        results = ex.run_batch([Job(program, tests, problem_id="apps/0001"), ...])

Workers default to this machine's cores divided by ``LOCAL_WORLD_SIZE`` so that every rank of a
distributed trainer can call the executor from its reward function without oversubscribing.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import math
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..settings.paths import repo_root
from ..settings.profiles import ExecConfig
from . import sandbox
from .compare import CompareConfig
from .judge import judge_job
from .testcases import InvalidTestCases, TestCases
from .values import dumps as encode_args
from .values import encode as encode_value
from .values import is_plain
from .verdicts import ExecutionResult, TestResult, Verdict
from .worker import read_message, remove_tree, write_message

#: The worker's whole environment: fixed values, nothing of the caller's (API keys stay out).
_WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HOME": "/nonexistent"}
_MAX_LIMIT_S = 3600.0


@dataclass(frozen=True)
class ExecutorConfig:
    """Limits and switches; every field is documented in the README's executor section."""

    workers: int | None = ExecConfig.workers  # None: cores // LOCAL_WORLD_SIZE, at least 1
    time_limit_s: float = ExecConfig.time_limit_s  # CPU seconds per test: the primary limit, immune to machine load
    wall_factor: float = 3.0  # wall-clock backstop per test = time_limit * wall_factor + 1 s
    program_wall_s: float = 120.0  # wall-clock budget for all tests of one program
    time_scale_factor: float = 4.0  # per-problem limit = max(floor, factor * reference CPU time)
    time_scale_floor_s: float = 1.0
    memory_limit_mb: int | None = ExecConfig.memory_limit_mb  # address space a test may add to the worker's baseline
    output_limit_mb: int = 16  # per stream (stdout, stderr) and for a returned value
    disk_limit_mb: int | None = 256  # files a test may leave in its directory at once (they may sit in RAM)
    coverage: bool = False
    coverage_time_factor: float = 2.0  # tracing slows code ~2x; limits scale so verdicts don't flip
    compare: str = "default"  # "default" | "exact" | "apps_compat"
    rel_tol: float = 1e-6
    abs_tol: float = 1e-6
    prelude: str = "auto"  # "auto": typing/collections names for call-based programs; "none"; "apps"
    early_stop: bool = True  # stop a program's tests once its verdict cannot change
    excerpt_chars: int = 1000
    read_roots: tuple[str, ...] | None = None  # None: sandbox.default_read_roots()
    sandbox_uid: int | None = 65534  # run programs as this user (nobody) when the executor runs as root
    max_threads: int = 1024  # threads of all programs running as sandbox_uid at once (RLIMIT_NPROC)

    def __post_init__(self) -> None:
        CompareConfig(mode=self.compare)  # validates the mode
        if self.prelude not in ("auto", "none", "apps"):
            raise ValueError(f"prelude {self.prelude!r}: expected 'auto', 'none' or 'apps'")
        for name in ("time_limit_s", "wall_factor", "program_wall_s", "time_scale_factor", "coverage_time_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1e6 \
                    or math.isnan(value):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    def n_workers(self) -> int:
        if self.workers:
            return max(1, int(self.workers))
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
        return max(1, cores // max(1, local_world))


@dataclass(frozen=True)
class Job:
    """One program to judge against its tests.

    ``time_limit_s`` overrides the per-test CPU limit; ``reference_cpu_s`` (the canonical
    solution's slowest test) scales it as evalplus does: max(floor, factor * reference).
    """

    program: str
    tests: TestCases
    problem_id: str = ""
    time_limit_s: float | None = None
    reference_cpu_s: float | None = None


class WorkerDied(RuntimeError):
    pass


class _WorkerProcess:
    """One sandbox worker and the pipe protocol to it (used by one thread at a time)."""

    def __init__(self, base_dir: str, read_roots: Sequence[str], uid: int | None) -> None:
        self.base_dir = base_dir
        self.read_roots = list(read_roots)
        self.uid = uid
        self.proc: subprocess.Popen | None = None
        self.layers: tuple[str, ...] = ()
        self.start()

    def start(self) -> None:
        pkg_root = str(repo_root())
        env = dict(_WORKER_ENV, PYTHONPATH=pkg_root)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stepcoder_lib.executor.worker", self.base_dir, os.pathsep.join(self.read_roots),
             "none" if self.uid is None else str(self.uid)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True, close_fds=True, cwd="/")
        hello = self._receive(timeout=60.0)
        self.layers = tuple(hello["layers"])

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            write_message(self.proc.stdin.fileno(), request)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(f"sandbox worker unreachable: {exc}") from exc
        return self._receive(timeout)

    def _receive(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise WorkerDied(f"sandbox worker gave no answer within {timeout:.0f}s")
        msg = read_message(fd)
        if msg is None:
            raise WorkerDied(f"sandbox worker exited (status {self.proc.poll()})")
        return msg

    def restart(self) -> None:
        self.kill()
        self.start()

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close() if stream else None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            remove_tree(self.base_dir)
        self.proc = None


class Executor:
    """Runs programs against unit tests in sandboxed processes, in parallel, results in order."""

    max_chunk = 8  # jobs sent to a worker in one round trip

    def __init__(self, config: ExecutorConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or ExecutorConfig(), **overrides)
        self._compare = CompareConfig(self.config.compare, self.config.rel_tol, self.config.abs_tol)
        self._memory = self.config.memory_limit_mb * (1 << 20) if self.config.memory_limit_mb else None
        self._last_death = "sandbox worker died"
        self._tmp = tempfile.mkdtemp(prefix="stepcoder-exec-")
        os.chmod(self._tmp, 0o711)  # the unprivileged program may reach its own directory by path
        roots = list(self.config.read_roots or sandbox.default_read_roots())
        self._idle: queue.Queue[_WorkerProcess] = queue.Queue()
        self._all: list[_WorkerProcess] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            for k in range(self.config.n_workers()):
                w = _WorkerProcess(os.path.join(self._tmp, f"w{k}"), roots, self.config.sandbox_uid)
                self._all.append(w)
                self._idle.put(w)
        except BaseException:
            self.close()
            raise
        atexit.register(self.close)

    @property
    def sandbox_layers(self) -> tuple[str, ...]:
        """The isolation layers active on this machine (see ``stepcoder_lib.executor.sandbox``)."""
        return self._all[0].layers if self._all else ()

    # public API ----------------------------------------------------------------------------
    def run(self, job: Job) -> ExecutionResult:
        return self._run_chunk([(0, job)])[0]

    def run_batch(self, jobs: Iterable[Job], progress: bool | str = True) -> list[ExecutionResult]:
        """Judge every job; one result per job, in input order; a malformed job gets INVALID_JOB."""
        if self._closed:
            raise RuntimeError("this Executor is closed")
        jobs = list(jobs)
        results: list[ExecutionResult | None] = [None] * len(jobs)
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            todo.put(i)
        bar = None
        if progress and len(jobs) > 1:
            from tqdm.auto import tqdm  # lazy: only when a progress bar is shown
            bar = tqdm(total=len(jobs), desc=progress if isinstance(progress, str) else "executing", unit="prog")
        bar_lock = threading.Lock()

        n_threads = min(len(self._all), len(jobs))

        def drain() -> None:
            # Several jobs per round trip keep the workers busy while this process judges
            # results; chunks shrink towards the end so that no worker is left idle.
            while True:
                chunk: list[tuple[int, Any]] = []
                size = max(1, min(self.max_chunk, todo.qsize() // (2 * n_threads)))
                while len(chunk) < size:
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        break
                    chunk.append((i, jobs[i]))
                if not chunk:
                    return
                try:
                    chunk_results = self._run_chunk(chunk)
                except BaseException as exc:  # never lose a job: each one gets a result saying why
                    chunk_results = [_judge_error(job, f"executor error: {type(exc).__name__}: {exc}")
                                     for _, job in chunk]
                for (i, _), result in zip(chunk, chunk_results):
                    results[i] = result
                if bar is not None:
                    with bar_lock:
                        bar.update(len(chunk))

        threads = [threading.Thread(target=drain, daemon=True) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if bar is not None:
            bar.close()
        return [r if r is not None else _judge_error(jobs[i], "no result was produced") for i, r in enumerate(results)]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for w in self._all:
            w.kill()
        with contextlib.suppress(OSError):
            remove_tree(self._tmp)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # internals -----------------------------------------------------------------------------
    def _limits(self, job: Job) -> float:
        cfg = self.config
        limit = job.time_limit_s or cfg.time_limit_s
        if job.reference_cpu_s is not None and job.time_limit_s is None:
            limit = max(cfg.time_scale_floor_s, cfg.time_scale_factor * job.reference_cpu_s)
        return limit * (cfg.coverage_time_factor if cfg.coverage else 1.0)

    def _validate(self, job: Any, index: int) -> str | None:
        pid = getattr(job, "problem_id", "") or f"job #{index}"
        if not isinstance(pid, str):
            pid = f"job #{index}"
        if not isinstance(job, Job):
            return f"{pid}: expected a Job, got {type(job).__name__}"
        if not isinstance(job.problem_id, str):
            return f"job #{index}: field 'problem_id': expected a string, got {type(job.problem_id).__name__}"
        if not isinstance(job.program, str):
            return f"{pid}: field 'program': expected source text, got {type(job.program).__name__}"
        for name in ("time_limit_s", "reference_cpu_s"):
            value = getattr(job, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                return f"{pid}: field '{name}': expected a number of seconds, got {value!r}"
            low_ok = value > 0 if name == "time_limit_s" else value >= 0
            if not low_ok or value > _MAX_LIMIT_S:
                return f"{pid}: field '{name}': {value!r} is outside (0, {_MAX_LIMIT_S:g}] seconds"
        if job.time_limit_s is None and job.reference_cpu_s is not None \
                and self.config.time_scale_factor * job.reference_cpu_s > _MAX_LIMIT_S:
            return f"{pid}: field 'reference_cpu_s': {job.reference_cpu_s!r} scales to a limit over {_MAX_LIMIT_S:g} s"
        if not isinstance(job.tests, TestCases):
            return f"{pid}: field 'tests': expected TestCases, got {type(job.tests).__name__}"
        try:
            job.tests.validate()
            if job.tests.format == "assert":
                _check_compiles(job.tests.setup_code, "<setup>")
                for k, code in enumerate(job.tests.inputs):
                    try:
                        _check_compiles(code, "<test>")
                    except (SyntaxError, ValueError) as exc:
                        raise InvalidTestCases(f"field 'inputs[{k}]': test code does not compile: {exc}") from None
            elif job.tests.format == "call":
                for k, args in enumerate(job.tests.inputs):
                    try:
                        plain = is_plain(encode_value(list(args)))
                    except (TypeError, ValueError, RecursionError) as exc:
                        raise InvalidTestCases(f"field 'inputs[{k}]': call arguments must be plain data: "
                                               f"{exc}") from None
                    if not plain:
                        raise InvalidTestCases(f"field 'inputs[{k}]': call arguments must be plain data "
                                               "(numbers, strings, lists, dicts...), not arbitrary objects")
            elif job.tests.format == "stdin":
                for text in job.tests.inputs:
                    text.encode("utf-8", "surrogatepass")
        except InvalidTestCases as exc:
            return f"{pid}: {exc}"
        except (SyntaxError, ValueError) as exc:
            return f"{pid}: field 'setup_code': does not compile: {exc}"
        except Exception as exc:  # anything else odd in a job is the job's fault, named
            return f"{pid}: malformed job: {type(exc).__name__}: {exc}"
        return None

    def _request(self, job: Job) -> tuple[dict[str, Any], float]:
        """What the worker needs for one job (never the expected outputs), and its time budget."""
        cfg = self.config
        cpu_limit = self._limits(job)
        tests = job.tests
        wall = cpu_limit * cfg.wall_factor + 1.0
        output_limit = cfg.output_limit_mb * (1 << 20)
        inputs = [encode_args(list(a)) for a in tests.inputs] if tests.format == "call" else list(tests.inputs)
        request = {
            "program": job.program, "format": tests.format, "inputs": inputs, "fn_name": tests.fn_name,
            "setup_code": tests.setup_code, "cpu_limit_s": cpu_limit, "wall_limit_s": wall,
            "program_wall_s": cfg.program_wall_s, "memory_bytes": self._memory, "output_limit": output_limit,
            "coverage": cfg.coverage, "early_stop": cfg.early_stop, "excerpt_chars": cfg.excerpt_chars,
            "max_threads": cfg.max_threads,
            "disk_limit": cfg.disk_limit_mb * (1 << 20) if cfg.disk_limit_mb else None,
            "prelude": {"auto": "call" if tests.format == "call" else "none", "none": "none",
                        "apps": "apps"}[cfg.prelude],
        }
        return request, min(cfg.program_wall_s, len(tests) * (4 * wall + 1.0)) + 4 * wall

    def _run_chunk(self, chunk: list[tuple[int, Any]]) -> list[ExecutionResult]:
        """Judge several jobs in one round trip to a worker; on a worker failure, one by one."""
        results: dict[int, ExecutionResult] = {}
        valid: list[tuple[int, Job]] = []
        for index, job in chunk:
            error = self._validate(job, index)
            if error:
                pid = str(getattr(job, "problem_id", "") or "")
                results[index] = ExecutionResult(problem_id=pid, verdict=Verdict.INVALID_JOB, error=error)
            else:
                valid.append((index, job))
        if valid:
            requests = [self._request(job) for _, job in valid]
            # the budget allows for the worker stretching deadlines of CPU-starved programs (4x)
            budget = sum(b for _, b in requests) + 30.0
            outcomes = self._call([r for r, _ in requests], budget, retry=len(valid) == 1)
            if outcomes is None and len(valid) > 1:  # a worker died: find the job that did it
                for item in valid:
                    results[item[0]] = self._run_chunk([item])[0]
            else:
                answers: list[dict[str, Any] | None] = list(outcomes) if outcomes else [None] * len(valid)
                for (index, job), outcome in zip(valid, answers):
                    results[index] = self._judge(job, outcome)
        return [results[index] for index, _ in chunk]

    def _call(self, requests: list[dict[str, Any]], budget: float, retry: bool) -> list[dict[str, Any]] | None:
        """Send jobs to an idle worker; a worker that fails in any way is replaced (a single job retried once)."""
        for _attempt in range(2 if retry else 1):
            worker = self._idle.get()
            try:
                results = worker.call({"jobs": requests}, timeout=budget)["results"]
                if len(results) != len(requests):
                    raise WorkerDied("sandbox worker answered for the wrong number of jobs")
                return results
            except Exception as exc:  # WorkerDied, a broken pipe, an unreadable answer
                self._last_death = str(exc) if isinstance(exc, WorkerDied) else f"sandbox worker failed: {exc!r}"
                try:
                    worker.restart()
                except Exception as restart_exc:
                    self._last_death += f"; restart failed: {restart_exc!r}"
            finally:
                self._idle.put(worker)
        return None

    def _judge(self, job: Job, outcome: dict[str, Any] | None) -> ExecutionResult:
        cfg = self.config
        if outcome is None:
            died = self._last_death
            test = TestResult(index=0, verdict=Verdict.RUNTIME_ERROR, detail=died, error_type="WorkerDied")
            return ExecutionResult(problem_id=job.problem_id, verdict=Verdict.RUNTIME_ERROR,
                                   tests=(test,), error=died)
        try:
            return judge_job(job.problem_id, job.tests, outcome, cpu_limit=self._limits(job),
                             memory_bytes=self._memory, output_limit=cfg.output_limit_mb * (1 << 20),
                             compare=self._compare, excerpt_chars=cfg.excerpt_chars,
                             coverage=cfg.coverage, program=job.program)
        except Exception as exc:  # a judging bug must not cost the caller the batch
            return _judge_error(job, f"judging failed: {type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=4096)
def _check_compiles(code: str, name: str) -> None:
    """Raise SyntaxError/ValueError if ``code`` does not compile (test code repeats across rollouts)."""
    compile(code, name, "exec")


def _judge_error(job: Any, reason: str) -> ExecutionResult:
    pid = getattr(job, "problem_id", "")
    return ExecutionResult(problem_id=pid if isinstance(pid, str) else "", verdict=Verdict.JUDGE_ERROR,
                           error=reason[:1000])


_shared: dict[ExecutorConfig, Executor] = {}
_shared_lock = threading.Lock()


def shared_executor(config: ExecutorConfig | None = None, **overrides: Any) -> Executor:
    """A process-wide executor per configuration, started on first use and closed at exit."""
    cfg = replace(config or ExecutorConfig(), **overrides)
    with _shared_lock:
        ex = _shared.get(cfg)
        if ex is None or ex._closed:
            ex = _shared[cfg] = Executor(cfg)
        return ex


def run_program(program: str, tests: TestCases, problem_id: str = "", **config: Any) -> ExecutionResult:
    """Judge one program (convenience wrapper over a shared ``Executor``)."""
    return shared_executor(**config).run(Job(program=program, tests=tests, problem_id=problem_id))
