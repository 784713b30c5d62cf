"""Hostile programs: none may crash, hang or escape the executor, and none may be paid for cheating."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import TEST_LIMITS

from stepcoder_lib.executor import Executor, ExecutorConfig, Job, Verdict
from stepcoder_lib.executor.testcases import TestCases

ONE = TestCases("stdin", ("1\n",), ("1\n",))
ADD = TestCases("assert", ("assert add(1, 2) == 3\nassert add(2, 2) == 4",))


def run(ex: Executor, program: str, tests: TestCases = ONE):
    return ex.run(Job(textwrap.dedent(program), tests, problem_id="hostile"))


def _descendants(pid: int) -> set[int]:
    ps = subprocess.Popen(["ps", "-e", "-o", "pid=,ppid="], stdout=subprocess.PIPE, text=True)
    out, _ = ps.communicate()
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        if p != ps.pid:
            children.setdefault(pp, []).append(p)
    seen, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def _executor_healthy(ex: Executor) -> bool:
    return run(ex, "print(int(input()))\n").passed


def test_sandbox_layers_active_on_linux(executor):
    assert {"process", "rlimits", "landlock", "seccomp"} <= set(executor.sandbox_layers)


def test_fork_bomb_is_refused_and_leaves_no_process(executor):
    before = _descendants(os.getpid())
    r = run(executor, "import os\nwhile True:\n    os.fork()\n")
    assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "PermissionError"
    after = _descendants(os.getpid())
    # only the pool's processes (each worker keeps one test process forked ahead), no new ones
    assert len(after) == len(before) and {w.proc.pid for w in executor._all} <= after
    assert _executor_healthy(executor)


@pytest.mark.parametrize("program", [
    "import subprocess\nsubprocess.run(['true'])\n",
    "import os\nprint(os.popen('echo 1').read())\n",
    "import multiprocessing as mp\np = mp.Process(target=print)\np.start()\np.join()\n",
    "import os\nos.execv('/bin/true', ['true'])\n",
])
def test_no_new_processes(executor, program):
    r = run(executor, program)
    assert r.verdict == Verdict.RUNTIME_ERROR, r.summary()


def test_os_system_cannot_start_a_shell(executor):
    # the spawn fails, so glibc's system() reports "shell exited 127" (32512) and nothing echoes
    r = run(executor, "import os\nprint(os.system('echo 1'))\n")
    assert r.verdict == Verdict.WRONG_ANSWER and r.tests[0].stdout.strip() in ("-1", "32512")


def test_memory_bomb():
    with Executor(ExecutorConfig(workers=1, time_limit_s=3.0, memory_limit_mb=128)) as ex:
        r = run(ex, "a = []\nwhile True:\n    a.append(bytearray(1 << 22))\n")
        assert r.verdict == Verdict.MEMORY_EXCEEDED, r.summary()
        assert r.tests[0].max_rss_kb < 200 * 1024
        assert _executor_healthy(ex)


def test_infinite_loop_times_out_in_bounded_time(executor):
    t0 = time.monotonic()
    r = run(executor, "while True:\n    pass\n")
    assert r.verdict == Verdict.TIMEOUT and time.monotonic() - t0 < 5


def test_sleeping_program_hits_the_wall_clock_backstop(executor):
    t0 = time.monotonic()
    r = run(executor, "import time\ntime.sleep(3600)\n")
    assert r.verdict == Verdict.TIMEOUT and "wall-clock" in r.tests[0].detail
    assert time.monotonic() - t0 < 10


def test_unbounded_recursion(executor):
    assert run(executor, "def f(n):\n    return f(n + 1)\nf(0)\n").tests[0].error_type == "RecursionError"
    r = run(executor, "import sys\nsys.setrecursionlimit(10 ** 9)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n")
    assert r.verdict in (Verdict.RUNTIME_ERROR, Verdict.MEMORY_EXCEEDED, Verdict.TIMEOUT)
    assert _executor_healthy(executor)


def test_print_flood_hits_the_output_limit(executor):
    t0 = time.monotonic()
    r = run(executor, "while True:\n    print('x' * 1000)\n")
    assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "OutputLimitExceeded"
    assert len(r.tests[0].stdout) < 2000 and time.monotonic() - t0 < 5


def test_stderr_flood_is_bounded(executor):
    r = run(executor, "import sys\nwhile True:\n    sys.stderr.write('y' * 1000)\n")
    assert r.verdict == Verdict.RUNTIME_ERROR and len(r.tests[0].stderr) < 2000


def test_huge_return_value_hits_the_output_limit(executor):
    tests = TestCases("call", ([1],), (1,), fn_name="f")
    r = run(executor, "def f(x):\n    return 'y' * (8 << 20)\n", tests)  # 8 MB of text, beyond the 2 MiB limit
    assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "OutputLimitExceeded"
    assert _executor_healthy(executor)


def test_cannot_write_or_delete_outside_its_temp_dir(executor, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    new = tmp_path / "new.txt"
    for program in (f"open({str(victim)!r}, 'w').write('x')\n", f"import os\nos.remove({str(victim)!r})\n",
                    f"import shutil\nshutil.rmtree({str(tmp_path)!r})\n", f"open({str(new)!r}, 'w').write('x')\n",
                    f"import os\nos.rename({str(victim)!r}, {str(new)!r})\n"):
        r = run(executor, program)
        assert r.verdict == Verdict.RUNTIME_ERROR, program
    assert victim.read_text() == "precious" and not new.exists()


def test_cannot_read_files_outside_system_dirs(executor, tmp_path):
    secret = tmp_path / "expected_outputs.json"
    secret.write_text('{"answer": 42}')
    r = run(executor, f"print(open({str(secret)!r}).read())\n")
    assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "PermissionError"


def test_files_written_in_its_own_dir_are_removed(executor):
    base = Path(executor._tmp)
    r = run(executor, "import os\nfor i in range(20):\n    open(f'f{i}', 'w').write('x' * 100)\n"
                      "os.mkdir('d')\nprint(1)\n")
    assert r.passed
    leftovers = [p for p in base.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers


def test_no_network(executor):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    accepted = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    t = threading.Thread(target=accept)
    t.start()
    r = run(executor, f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                      "s.sendall(b'hi')\n")
    t.join()
    server.close()
    assert r.verdict == Verdict.RUNTIME_ERROR and not accepted


def test_killing_the_parent_fails_and_executor_survives(executor):
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        for program in ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
                        "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n",
                        "import os, signal\nos.kill(1, signal.SIGTERM)\n",
                        f"import os, signal\nos.kill({bystander.pid}, signal.SIGKILL)\n",
                        f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n"):
            r = run(executor, program)
            assert r.verdict == Verdict.RUNTIME_ERROR, program
        # kill(-1) reports success when every target is refused, but nobody dies
        assert not run(executor, "import os, signal\nos.kill(-1, signal.SIGKILL)\n").passed
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
    assert _executor_healthy(executor)


def test_ignoring_signals_does_not_escape_the_time_limit(executor):
    t0 = time.monotonic()
    program = ("import signal\nfor s in (signal.SIGXCPU, signal.SIGPROF, signal.SIGTERM, signal.SIGINT):\n"
               "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n")
    assert run(executor, program).verdict == Verdict.TIMEOUT
    assert time.monotonic() - t0 < 10


def test_no_capabilities_inside_even_as_root(executor):
    program = "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])\n"
    r = run(executor, program, TestCases("stdin", ("",), ("0000000000000000\n",)))
    assert r.passed, r.tests[0].stdout


def test_limits_cannot_be_raised_from_inside(executor):
    raise_as = ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)\n"
                "x = bytearray(3 << 30)\n")
    r = run(executor, raise_as)
    assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "ValueError", r.summary()
    t0 = time.monotonic()
    raise_cpu = ("import resource, signal\nsignal.setitimer(signal.ITIMER_PROF, 0)\n"
                 "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
                 "soft, hard = resource.getrlimit(resource.RLIMIT_CPU)\n"
                 "try:\n    resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)\n"
                 "except ValueError:\n    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))\n"
                 "while True:\n    pass\n")
    assert run(executor, raise_cpu).verdict == Verdict.TIMEOUT
    assert time.monotonic() - t0 < 6  # stopped by the CPU hard limit, not the wall-clock backstop


def test_exits_before_the_asserts_do_not_pass(executor):
    # the module body ends early, but the tests still run against what it defined
    assert run(executor, "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n", ADD).verdict == Verdict.WRONG_ANSWER
    assert run(executor, "exit()\ndef add(a, b):\n    return a + b\n", ADD).verdict == Verdict.RUNTIME_ERROR
    # exiting the process from inside the tested function is never a pass
    for exit_call in ("os._exit(0)", "sys.exit(0)", "exit()", "raise SystemExit"):
        program = f"import os, sys\ndef add(a, b):\n    {exit_call}\n"
        r = run(executor, program, ADD)
        assert r.verdict == Verdict.RUNTIME_ERROR, (exit_call, r.summary())


def test_os_exit_in_stdin_program_is_judged_by_its_output(executor):
    r = run(executor, "import os\nos._exit(0)\n")  # printed nothing
    assert r.verdict == Verdict.WRONG_ANSWER
    assert run(executor, "import os\nos._exit(3)\n").verdict == Verdict.RUNTIME_ERROR


def test_redefining_the_checker_does_not_pass(executor):
    test = "def check(candidate):\n    assert candidate(2) == 4\n\ncheck(square)\n"
    tests = TestCases("assert", (test,))
    hacks = [
        "def square(x):\n    return 0\ndef check(candidate):\n    pass\n",
        "import builtins\nbuiltins.AssertionError = Exception\ndef square(x):\n    return 0\n",
        "class Eq:\n    def __eq__(self, o):\n        return True\ndef square(x):\n    return Eq()\n",
        "class Eq(int):\n    def __eq__(self, o):\n        return True\ndef square(x):\n    return Eq(0)\n",
    ]
    for program in hacks:
        r = run(executor, program, tests)
        assert not r.passed, program


def test_forged_report_on_the_pipe_is_rejected(executor):
    program = """
    import os, json
    msg = json.dumps({"phase": "done", "ok": True}).encode()
    for fd in range(3, 64):
        try:
            os.write(fd, msg)
        except OSError:
            pass
    os._exit(0)
    def add(a, b):
        return 0
    """
    r = run(executor, program, ADD)
    assert r.verdict == Verdict.RUNTIME_ERROR, r.summary()


def test_printing_a_guessed_answer_format_is_judged_by_the_tests(executor):
    tests = TestCases("stdin", ("4\n", "7\n", "10\n"), ("YES\n", "NO\n", "YES\n"))
    r = run(executor, "print('YES')\n", tests)
    assert r.verdict == Verdict.WRONG_ANSWER and r.n_passed == 2


def test_hostile_batch_continues_and_keeps_order(executor):
    programs = ["print(1)\n", "while True:\n    pass\n", "import os\nos.kill(os.getppid(), 9)\n",
                "a = ' ' * (1 << 40)\n", "print(1)\n"]
    results = executor.run_batch([Job(p, ONE, problem_id=f"p{i}") for i, p in enumerate(programs)], progress=False)
    assert [r.problem_id for r in results] == [f"p{i}" for i in range(5)]
    assert [r.verdict for r in results] == [Verdict.PASSED, Verdict.TIMEOUT, Verdict.RUNTIME_ERROR,
                                            Verdict.MEMORY_EXCEEDED, Verdict.PASSED]


def test_closing_leaves_no_processes_or_temp_dirs():
    before = _descendants(os.getpid())
    ex = Executor(ExecutorConfig(**TEST_LIMITS))
    tmp = ex._tmp
    assert len(_descendants(os.getpid()) - before) >= 2
    run(ex, "import time\ntime.sleep(0.1)\nprint(1)\n")
    ex.close()
    assert not os.path.exists(tmp)
    deadline = time.monotonic() + 5
    while _descendants(os.getpid()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _descendants(os.getpid()) - before == set()
