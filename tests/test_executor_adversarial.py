"""Programs written to break, fool or read through the executor, in batches with honest rollouts.

Each defect of issue 7 has a focused test below; ``test_adversarial_batch`` then runs every
hostile program of this file in one shuffled batch with honest jobs and several rollouts of the
same problem, and checks the executor's promises: one result per job, in order; no copier
passes; no secret (environment or file) and no outside file in any result; workers healthy
afterwards; nothing left behind.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
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
from stepcoder_lib.method.reward import PAPER_REWARD

SECRET = "s3cr3t-7f2c9e-API-KEY"  # in the parent's environment and in a file outside the sandbox
ANSWER = "4817263"  # what the honest rollouts of the shared problem print


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


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("outside") / "secret.txt"
    path.write_text(SECRET + "\n")
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)  # readable by anyone: only the sandbox keeps it out
    return path


@pytest.fixture(scope="module")
def ex(secret_file):
    os.environ["STEPCODER_TEST_SECRET"] = SECRET  # the executor must not pass this on
    try:
        with Executor(ExecutorConfig(**TEST_LIMITS)) as executor:
            yield executor
    finally:
        os.environ.pop("STEPCODER_TEST_SECRET", None)


def run(ex: Executor, program: str, tests: TestCases, **job):
    return ex.run(Job(textwrap.dedent(program), tests, problem_id="adv", **job))


def _text(result) -> str:
    """Everything a result carries that a program could have influenced."""
    parts = [result.error or ""]
    for t in result.tests:
        parts += [t.stdout, t.stderr, t.detail, t.error_type or ""]
    return "\n".join(parts)


ONE = TestCases("stdin", ("",), ("1\n",))
SHARED = TestCases("stdin", ("7\n",), (ANSWER + "\n",))
ADD = TestCases("assert", ("assert add(1, 2) == 3\nassert add(2, 2) == 4",))
HE_CHECK = TestCases("assert", ("def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9\n\n"
                                "check(square)\n",))
CLOSE = TestCases("assert", ("import math\nassert math.isclose(area(2), 12.566, rel_tol=1e-3)",))


# --- one result per job, in order, whatever the program does ----------------------------------
def test_a_5000_digit_integer_token_is_judged(ex):
    big = "9" * 5000
    r = run(ex, f"print('{big}')", TestCases("stdin", ("",), (big + "\n",)))
    assert r.passed, r.summary()
    r = run(ex, f"print('{big[:-1]}8')", TestCases("stdin", ("",), (big + "\n",)))
    assert r.verdict == Verdict.WRONG_ANSWER


def test_correct_integer_answer_over_4300_digits_passes(ex):
    expected = "1" + "0" * 4999 + "7"  # 10 ** 5000 + 7
    r = run(ex, "print(10 ** 5000 + int(input()))", TestCases("stdin", ("7\n",), (expected + "\n",)))
    assert r.passed, r.summary()
    r = run(ex, "def f(n):\n    return 10 ** 5000 + n\n", TestCases("call", ([7],), (10 ** 5000 + 7,), fn_name="f"))
    assert r.passed, r.summary()


@pytest.mark.parametrize("returned, expected", [
    ({"__float__": "inf"}, {"__float__": "inf"}),
    ({"__pairs__": [[1, 2]]}, {"__pairs__": [[1, 2]]}),
    ({"__set__": [1]}, {"__set__": [1]}),
    ({"__opaque__": "x", "repr": ""}, {"__opaque__": "x", "repr": ""}),
])
def test_returned_values_cannot_collide_with_the_encoding(ex, returned, expected):
    tests = TestCases("call", ([0],), (expected,), fn_name="f")
    assert run(ex, f"def f(x):\n    return {returned!r}\n", tests).passed
    # ... and an encoding-shaped dict is never read as the thing it imitates
    tests = TestCases("call", ([0],), (math.inf,), fn_name="f")
    assert run(ex, "def f(x):\n    return {'__float__': 'inf'}\n", tests).verdict == Verdict.WRONG_ANSWER


@pytest.mark.parametrize("field, value", [
    ("time_limit_s", float("nan")), ("time_limit_s", "2"), ("time_limit_s", -1.0), ("time_limit_s", 0),
    ("time_limit_s", float("inf")), ("reference_cpu_s", 1e12), ("reference_cpu_s", float("nan")),
    ("reference_cpu_s", -3.0),
])
def test_malformed_limits_become_invalid_job_naming_the_field(ex, field, value):
    jobs = [Job("print(1)", ONE, problem_id="ok-1"), Job("print(1)", ONE, problem_id="bad/1", **{field: value}),
            Job("print(1)", ONE, problem_id="ok-2")]
    results = ex.run_batch(jobs, progress=False)
    assert [r.problem_id for r in results] == ["ok-1", "bad/1", "ok-2"]
    assert results[0].passed and results[2].passed
    assert results[1].verdict == Verdict.INVALID_JOB and PAPER_REWARD(results[1].verdict) is None
    assert "bad/1" in results[1].error and f"'{field}'" in results[1].error


def test_unpicklable_call_arguments_are_an_invalid_job(ex):
    jobs = [Job("def f(x):\n    return 1\n", TestCases("call", ([lambda: 0],), (1,), fn_name="f"), problem_id="apps/9"),
            Job("def f(x):\n    return 1\n", TestCases("call", ([object()],), (1,), fn_name="f"), problem_id="apps/10"),
            Job("print(1)", ONE, problem_id="ok")]
    results = ex.run_batch(jobs, progress=False)
    assert len(results) == 3 and results[2].passed
    for r, pid in zip(results[:2], ("apps/9", "apps/10")):
        assert r.verdict == Verdict.INVALID_JOB and pid in r.error and "'inputs[0]'" in r.error


def test_a_judging_failure_becomes_a_verdict_not_an_exception(monkeypatch):
    from stepcoder_lib.executor import pool

    def broken(*args, **kwargs):
        raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")

    with Executor(ExecutorConfig(**TEST_LIMITS)) as executor:
        monkeypatch.setattr(pool, "judge_job", broken)
        jobs = [Job("print(1)", ONE, problem_id=f"p{i}") for i in range(8)]
        results = executor.run_batch(jobs, progress=False)
        assert [r.problem_id for r in results] == [f"p{i}" for i in range(8)]
        assert all(r.verdict == Verdict.JUDGE_ERROR and PAPER_REWARD(r.verdict) is None and "4300 digits" in r.error
                   for r in results)
        monkeypatch.undo()
        assert executor.run(Job("print(1)", ONE)).passed


def test_editing_the_report_through_frames_does_not_pass(ex):
    program = """
    import sys, gc
    def add(a, b):
        return 0
    f = sys._getframe()
    while f is not None:
        for d in (f.f_locals, f.f_globals):
            for k in ("report", "out", "outcome"):
                if isinstance(d.get(k), dict):
                    d[k].update(ok=True, phase="done", status="passed", value=["i", "3"], lines=[1, 99999])
        f = f.f_back
    for o in gc.get_objects():
        if isinstance(o, dict) and "phase" in o:
            o.update(ok=True, phase="done", status="passed")
    """
    r = run(ex, program, ADD)
    assert r.verdict == Verdict.WRONG_ANSWER, r.summary()
    r = run(ex, program.replace("def add(a, b):\n        return 0", "def f(x):\n        return 0"),
            TestCases("call", ([1],), (3,), fn_name="f"))
    assert not r.passed


def test_a_report_forged_on_every_descriptor_does_not_pass(ex):
    program = """
    import os, json, sys
    nonce = None
    f = sys._getframe()
    while f is not None:
        nonce = nonce or f.f_locals.get("nonce")
        f = f.f_back
    msgs = [json.dumps({"phase": "done", "ok": True, "nonce": nonce, "status": "passed"}).encode()]
    for fd in range(3, 256):
        for m in msgs:
            try:
                os.write(fd, m)
            except OSError:
                pass
    os._exit(0)
    def add(a, b):
        return 0
    """
    assert not run(ex, program, ADD).passed


def test_coverage_lines_outside_the_program_are_dropped(cov_executor):
    program = """
    import gc
    for o in gc.get_objects():
        if isinstance(o, dict):
            for v in list(o.values()):
                if isinstance(v, set) and v and all(isinstance(x, int) for x in v):
                    v.update({500, -1})
    print(1)
    """
    r = run(cov_executor, program, ONE)
    assert r.passed and all(0 < n <= len(textwrap.dedent(program).splitlines()) + 1 for n in r.executed_lines)


def test_a_3000_deep_directory_leaves_the_worker_healthy():
    program = "import os\nfor i in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\nprint(1)\n"
    # 3000 nested mkdirs cost ~1 s of kernel time on some disks (0.9-1.0 s measured here): the 1 s test limit
    # would time the program out; the test is about the cleanup afterwards, so it gets 5x that
    ex = Executor(ExecutorConfig(**{**TEST_LIMITS, "time_limit_s": 5.0}))
    tmp = ex._tmp
    try:
        results = ex.run_batch([Job(program, ONE, problem_id=f"deep{i}") for i in range(3)]
                               + [Job("print(1)", ONE, problem_id="after")], progress=False)
        assert all(r.passed for r in results), [r.summary() for r in results]
        assert ex.run(Job("import os\nprint(len(os.listdir('.')))", TestCases("stdin", ("",), ("0\n",)))).passed
    finally:
        ex.close()  # must not raise
    assert not os.path.exists(tmp)


def test_a_killed_worker_is_replaced(ex):
    victim = ex._all[0].proc.pid
    os.kill(victim, 9)
    results = ex.run_batch([Job("print(1)", ONE, problem_id=str(i)) for i in range(6)], progress=False)
    assert all(r.passed for r in results), [r.summary() for r in results]


# --- no rollout can see another rollout ---------------------------------------------------------
COPIERS = {
    "copier: gc walk for outputs": """
        import gc
        for o in gc.get_objects():
            if isinstance(o, dict) and isinstance(o.get("stdout"), bytes) and o["stdout"].strip():
                print(o["stdout"].decode().strip())
                break
        """,
    "copier: gc walk for any answer-like bytes": """
        import gc, re
        for o in gc.get_objects():
            for v in (o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()):
                pattern = rb"\\d{7}\\n?" if isinstance(v, bytes) else r"\\d{7}\\n?"
                if isinstance(v, (bytes, str)) and re.fullmatch(pattern, v):
                    print(v.decode() if isinstance(v, bytes) else v, end="")
                    raise SystemExit
        """,
    "copier: scan own memory": """
        import re
        found = None
        with open("/proc/self/maps") as maps:
            regions = [l.split() for l in maps]
        mem = open("/proc/self/mem", "rb")
        for r in regions:
            if "r" not in r[1] or (len(r) > 5 and r[5].startswith("[v")):
                continue
            lo, hi = (int(x, 16) for x in r[0].split("-"))
            try:
                mem.seek(lo)
                m = re.search(rb"(?<![0-9])4817263(?![0-9])", mem.read(min(hi - lo, 64 << 20)))
            except (OSError, ValueError, OverflowError):
                continue
            if m:
                found = m.group()
                break
        print(found.decode() if found else "nothing")
        """,
    "copier: other workers' directories": """
        import glob, os
        for p in glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.getcwd())), "*", "*", "*")):
            try:
                print(open(p).read())
            except OSError:
                pass
        print("done")
        """,
    "copier: other processes": """
        import os
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != os.getpid():
                for name in ("environ", "cmdline", "fd/1", "mem"):
                    try:
                        print(open(f"/proc/{pid}/{name}", "rb").read(4096))
                    except OSError:
                        pass
        """,
}

HONEST_SHARED = "n = int(input())\nprint(4817256 + n)\n"


def test_rollouts_of_one_problem_cannot_copy_each_other(ex):
    jobs = [Job(HONEST_SHARED, SHARED, problem_id="honest-0")]
    for name, program in COPIERS.items():
        jobs.append(Job(textwrap.dedent(program), SHARED, problem_id=name))
    jobs.append(Job(HONEST_SHARED, SHARED, problem_id="honest-1"))
    for name, program in COPIERS.items():
        jobs.append(Job(textwrap.dedent(program), SHARED, problem_id=name + " (2)"))
    results = ex.run_batch(jobs, progress=False)
    assert [r.problem_id for r in results] == [j.problem_id for j in jobs]
    assert results[0].passed and results[len(COPIERS) + 1].passed
    copied = [r.problem_id for r in results if r.passed and not r.problem_id.startswith("honest")]
    assert not copied


def test_the_output_file_cannot_be_redirected_by_a_symlink_or_blocked_by_a_fifo(ex, secret_file):
    for program in (f"import os, glob\nfor p in glob.glob('*'):\n    os.remove(p)\n"
                    f"os.symlink({str(secret_file)!r}, 'stdout.txt')\n",
                    "import os\nos.symlink('/etc/shadow', 'stdout.txt')\nos.symlink('/etc/shadow', 'stderr.txt')\n",
                    "import os\nos.mkfifo('stdout.txt')\nos.mkfifo('stderr.txt')\nos.mkfifo('stdin.txt')\n"):
        t0 = time.monotonic()
        r = run(ex, program, ONE)
        assert time.monotonic() - t0 < 10
        assert SECRET not in _text(r) and "root:" not in _text(r)
        assert not r.passed


# --- less reach -----------------------------------------------------------------------------------
def test_programs_run_unprivileged_with_an_empty_environment(ex):
    if os.geteuid() != 0:
        pytest.skip("the executor switches users only when it runs as root")
    r = run(ex, "import os\nprint(os.getuid(), os.getgid(), os.getgroups(), dict(os.environ))",
            TestCases("stdin", ("",), ("65534 65534 [] {}\n",)))
    assert r.passed, r.summary()
    assert "unprivileged" in ex.sandbox_layers
    r = run(ex, "print(open('/proc/self/environ', 'rb').read())\nprint(open('/proc/1/environ', 'rb').read())", ONE)
    assert SECRET not in _text(r)


def test_no_socket_of_any_family(ex, tmp_path):
    path = tmp_path / "outside.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(0.5)
    os.chmod(tmp_path, 0o755)
    os.chmod(path, 0o777)
    accepted = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    t = threading.Thread(target=accept)
    t.start()
    r = run(ex, f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})\ns.sendall(b'hi')\n", ONE)
    t.join()
    server.close()
    assert r.verdict == Verdict.RUNTIME_ERROR and not accepted
    for family in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"):
        r = run(ex, f"import socket\nsocket.socket(socket.{family}, socket.SOCK_DGRAM)\n", ONE)
        assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "PermissionError", family


def test_memory_outside_the_address_space_limit_is_denied(ex):
    for program in ("import os\nfds = [os.memfd_create('x') for _ in range(200)]\nprint(1)\n",
                    "import mmap\nm = mmap.mmap(-1, 1 << 20, flags=mmap.MAP_SHARED)\nimport ctypes\n"
                    "libc = ctypes.CDLL(None)\nassert libc.shmget(0, 16 << 20, 0o1000 | 0o600) >= 0\nprint(1)\n"):
        r = run(ex, program, ONE)
        assert not r.passed, program


ASSERT_HACKS = {
    "always-equal through partial": (ADD, """
        import functools
        class Eq:
            def __eq__(self, o):
                return True
        def _add(a, b, eq):
            return eq
        add = functools.partial(_add, eq=Eq())
        """),
    "always-equal with a renamed __module__": (ADD, """
        class Eq(int):
            def __eq__(self, o):
                return True
            __hash__ = int.__hash__
        Eq.__module__ = "builtins"
        def add(a, b):
            return Eq(0)
        add.__module__ = "builtins"  # a library name the judge cannot resolve: stays the program's
        """),
    "patching math": (CLOSE, """
        import math
        math.isclose = lambda *a, **k: True
        def area(r):
            return 0
        """),
    "patching sys.modules": (CLOSE, """
        import sys, types
        fake = types.ModuleType("math")
        fake.isclose = lambda *a, **k: True
        sys.modules["math"] = fake
        def area(r):
            return 0
        """),
    "patching unittest and builtins": (ADD, """
        import builtins, unittest
        builtins.AssertionError = KeyError
        unittest.TestCase.assertEqual = lambda *a: None
        def add(a, b):
            return 0
        """),
    "redefining check": (HE_CHECK, """
        def square(x):
            return 0
        def check(candidate):
            pass
        """),
    "editing the test through frames": (ADD, """
        import sys
        def add(a, b):
            f = sys._getframe(1)
            while f is not None:
                f.f_globals["__builtins__"]["AssertionError"] = ZeroDivisionError
                f = f.f_back
            return 0
        """),
    "returning a program object": (HE_CHECK, """
        class Anything:
            def __eq__(self, o):
                return True
            def __bool__(self):
                return True
        def square(x):
            return Anything()
        """),
    "exiting cleanly from the tested function": (ADD, """
        import os
        def add(a, b):
            os._exit(0)
        """),
    "raising SystemExit inside the test": (ADD, """
        def add(a, b):
            raise SystemExit(0)
        """),
}


@pytest.mark.parametrize("name", sorted(ASSERT_HACKS))
def test_assert_style_hacks_do_not_pass(ex, name):
    tests, program = ASSERT_HACKS[name]
    r = run(ex, program, tests)
    assert not r.passed, r.summary()


def test_honest_assert_style_programs_still_pass(ex):
    assert run(ex, "def add(a, b):\n    return a + b\n", ADD).passed
    assert run(ex, "def square(x):\n    return x * x\n", HE_CHECK).passed
    assert run(ex, "import math\ndef area(r):\n    return math.pi * r * r\n", CLOSE).passed
    tree = TestCases("assert", ("assert height(root) == 3", "assert height(Node(1)) == 1"),
                     setup_code="root = Node(1)\nroot.left = Node(2)\nroot.left.left = Node(3)\n")
    program = ("class Node:\n    def __init__(self, v):\n        self.v, self.left, self.right = v, None, None\n"
               "def height(n):\n    return 0 if n is None else 1 + max(height(n.left), height(n.right))\n")
    assert run(ex, program, tree).passed
    match = TestCases("assert", ('assert check("annie")', 'assert not check("dawood")',
                                 "assert list(evens(5)) == [0, 2, 4]", "assert remove((4, 5.5, 6), int) == [5.5]"))
    program = ("import re\ndef check(s):\n    return re.search('^[aeiou]', s)\ndef evens(n):\n"
               "    return (i for i in range(n) if i % 2 == 0)\n"
               "def remove(t, ty):\n    return [x for x in t if not isinstance(x, ty)]\n")
    assert run(ex, program, match).passed
    raises = TestCases("assert", ("try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    assert False",))
    assert run(ex, "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n", raises).passed


# --- correct programs pass, wrong ones do not ----------------------------------------------------
def test_integer_answers_must_be_integers(ex):
    assert run(ex, "print(1e9)", TestCases("stdin", ("",), ("999999999\n",))).verdict == Verdict.WRONG_ANSWER
    assert run(ex, "print('1e17')", TestCases("stdin", ("",), (f"{10 ** 17 + 1}\n",))).verdict == Verdict.WRONG_ANSWER
    call = TestCases("call", ([0],), (10 ** 17 + 1,), fn_name="f")
    assert run(ex, "def f(x):\n    return 1e17\n", call).verdict == Verdict.WRONG_ANSWER
    assert run(ex, "print(0.3333333333)", TestCases("stdin", ("",), ("0.333333333\n",))).passed


HABITS = {
    "two threads": ("import threading\nout = []\nts = [threading.Thread(target=lambda i=i: out.append(i)) "
                    "for i in range(2)]\nfor t in ts:\n    t.start()\nfor t in ts:\n    t.join()\n"
                    "print(sum(out) + 0)\n",
                    "1\n"),
    "thread pool": ("from concurrent.futures import ThreadPoolExecutor\nwith ThreadPoolExecutor(4) as p:\n"
                    "    print(sum(p.map(lambda x: x, [0, 1])))\n", "1\n"),
    "stdout closed at the end": ("import sys\nprint(1)\nsys.stdout.close()\n", "1\n"),
    "os.fstat size read": ("import os, io\ndata = os.read(0, os.fstat(0).st_size)\nprint(len(data.split()))\n", "1\n"),
}


@pytest.mark.parametrize("habit", sorted(HABITS))
def test_legitimate_habits_pass(ex, habit):
    program, expected = HABITS[habit]
    r = run(ex, program, TestCases("stdin", ("5\n",), (expected,)))
    assert r.passed, f"{habit}: {r.summary()} {r.tests[0].stderr}"


@pytest.mark.parametrize("program, expected", [
    ("from collections import Counter\ndef f(x):\n    return Counter('aab')\n", {"a": 2, "b": 1}),
    ("from collections import deque\ndef f(x):\n    return deque([1, 2])\n", [1, 2]),
    ("from collections import OrderedDict, defaultdict\ndef f(x):\n    d = defaultdict(int)\n    d['k'] += 2\n"
     "    return d\n", {"k": 2}),
    ("import numpy as np\ndef f(x):\n    return np.int64(7)\n", 7),
    ("import numpy as np\ndef f(x):\n    return np.arange(3)\n", [0, 1, 2]),
    ("import numpy as np\ndef f(x):\n    return np.float64(0.5)\n", 0.5),
    ("def f(x):\n    return (1, (2, 3))\n", [1, [2, 3]]),
])
def test_common_returned_containers_normalise_to_plain_data(ex, program, expected):
    r = run(ex, program, TestCases("call", ([0],), (expected,), fn_name="f"))
    assert r.passed, r.summary()


def test_timeout_details_never_contradict_the_limit(ex):
    r = run(ex, "while True:\n    pass\n", ONE)
    assert r.verdict == Verdict.TIMEOUT
    used = float(r.tests[0].detail.split("(")[1].split("s")[0])
    assert used >= 1.0 and r.tests[0].cpu_s >= 1.0, r.tests[0].detail


# --- the whole adversarial suite in one batch --------------------------------------------------------
def _hostile_programs(secret_path: str) -> dict[str, tuple[str, TestCases]]:
    """Every class of attack, each a job that must not pass (and must not leak)."""
    h: dict[str, tuple[str, TestCases]] = {}
    for name, program in COPIERS.items():
        h[name] = (textwrap.dedent(program), SHARED)
    for name, (tests, program) in ASSERT_HACKS.items():
        h["assert hack: " + name] = (textwrap.dedent(program), tests)
    h.update({
        "read the secret file": (f"print(open({secret_path!r}).read())", ONE),
        "symlink to the secret": (f"import os\nos.symlink({secret_path!r}, 'x')\nprint(open('x').read())", ONE),
        "hardlink to the secret": (f"import os\nos.link({secret_path!r}, 'x')\nprint(open('x').read())", ONE),
        "environment": ("import os\nprint(os.environ)\nprint(open('/proc/self/environ','rb').read())", ONE),
        "parent environment": ("import os\nprint(open(f'/proc/{os.getppid()}/environ','rb').read())", ONE),
        "all environments": ("import os\nfor p in os.listdir('/proc'):\n    try:\n"
                             "        print(open(f'/proc/{p}/environ','rb').read())\n"
                             "    except OSError:\n        pass", ONE),
        "/etc/shadow": ("print(open('/etc/shadow').read())", ONE),
        "fork bomb": ("import os\nwhile True:\n    os.fork()\n", ONE),
        "subprocess": ("import subprocess\nprint(subprocess.check_output(['cat', '/etc/shadow']))", ONE),
        "memory bomb": ("a = []\nwhile True:\n    a.append(bytearray(1 << 24))\n", ONE),
        "memfd bomb": ("import os\nfds = []\nfor i in range(200):\n    fd = os.memfd_create('x')\n"
                       "    os.ftruncate(fd, 16 << 20)\n    fds.append(fd)\nprint(1)", ONE),
        "thread bomb": ("import threading, time\nthreading.stack_size(65536)\nts = []\nwhile True:\n"
                        "    t = threading.Thread(target=time.sleep, args=(5,), daemon=True)\n    t.start()\n"
                        "    ts.append(t)\n", ONE),
        "infinite loop": ("while True:\n    pass\n", ONE),
        "ignore cpu signals": ("import signal\nfor s in (signal.SIGXCPU, signal.SIGPROF):\n"
                               "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n", ONE),
        "sleep forever": ("import time\ntime.sleep(3600)\n", ONE),
        "kill the parent": ("import os\nos.kill(os.getppid(), 9)\n", ONE),
        "kill everything": ("import os\nos.kill(-1, 9)\n", ONE),
        "print flood": ("while True:\n    print('x' * 1000)\n", ONE),
        "huge return": ("def f(x):\n    return 'y' * (8 << 20)\n", TestCases("call", ([1],), (1,), fn_name="f")),
        "encoding collision": ("def f(x):\n    return {'__float__': 'inf'}\n",
                               TestCases("call", ([0],), (math.inf,), fn_name="f")),
        "deep return": ("def f(x):\n    v = 1\n    for _ in range(100000):\n        v = [v]\n    return v\n",
                        TestCases("call", ([0],), (1,), fn_name="f")),
        "deep directory": ("import os\nfor i in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n", ONE),
        "chmod its directory": ("import os\nos.mkdir('d')\nopen('d/f', 'w').write('x')\nos.chmod('d', 0)\n"
                                "os.chmod('.', 0)\n", ONE),
        "fifo in place of stdout": ("import os\nos.mkfifo('stdout.txt')\n", ONE),
        "write outside": ("open('/tmp/stepcoder-adversarial-was-here', 'w').write('x')\nprint(1)", ONE),
        "unix socket": ("import socket\nsocket.socket(socket.AF_UNIX).connect('/run/dbus/system_bus_socket')\nprint(1)",
                        ONE),
        "tcp": ("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\nprint(1)", ONE),
        "forged report": (textwrap.dedent("""
            import os, json
            for fd in range(3, 64):
                try:
                    os.write(fd, json.dumps({"phase": "done", "ok": True, "status": "passed"}).encode())
                except OSError:
                    pass
            os._exit(0)
            """), ADD),
        "1e9 for an integer": ("print(1e9)", TestCases("stdin", ("",), ("999999999\n",))),
        "guessing YES": ("print('YES')", TestCases("stdin", ("1\n", "2\n"), ("YES\n", "NO\n"))),
        "exit early with code 0": ("import sys\nsys.exit(0)", ONE),
        "ptrace a neighbour": ("import ctypes, os\nlibc = ctypes.CDLL(None)\n"
                               "print(libc.ptrace(16, os.getppid(), 0, 0))\nprint(1)", ONE),
        "raise limits": ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\nprint(1)", ONE),
        "setuid root": ("import os\nos.setuid(0)\nprint(1)", ONE),
    })
    return h


def test_adversarial_batch(ex, secret_file):
    hostile = _hostile_programs(str(secret_file))
    assert len(hostile) >= 40
    rng = random.Random(7)
    jobs = [(f"hostile: {name}", program, tests, False) for name, (program, tests) in hostile.items()]
    jobs += [(f"honest-shared-{k}", HONEST_SHARED, SHARED, True) for k in range(4)]
    jobs += [(f"honest-one-{k}", "print(1)", ONE, True) for k in range(3)]
    jobs += [("honest-add", "def add(a, b):\n    return a + b\n", ADD, True)]
    rng.shuffle(jobs)
    jobs.insert(0, ("honest-shared-first", HONEST_SHARED, SHARED, True))  # copiers run after an honest rollout
    before = _descendants(os.getpid())
    results = ex.run_batch([Job(p, t, problem_id=pid) for pid, p, t, _ in jobs], progress=False)

    assert len(results) == len(jobs)
    assert [r.problem_id for r in results] == [pid for pid, *_ in jobs]
    wrong = [r.summary() for r, (_, _, _, honest) in zip(results, jobs) if r.passed != honest]
    assert not wrong, wrong
    for r in results:
        text = _text(r)
        assert SECRET not in text and "root:" not in text and "/home/" not in text, r.summary()
    assert not os.path.exists("/tmp/stepcoder-adversarial-was-here")
    # healthy afterwards, nothing left behind
    again = ex.run_batch([Job(HONEST_SHARED, SHARED, problem_id=str(i)) for i in range(6)], progress=False)
    assert all(r.passed for r in again)
    after = _descendants(os.getpid())
    # the pool's processes only (each worker keeps one test process forked ahead): none left by a test
    assert len(after) == len(before) and {w.proc.pid for w in ex._all} <= after
    leftovers = [p for p in Path(ex._tmp).rglob("*") if p.parent.name == "t" or p.is_file()]
    assert leftovers == [], leftovers[:5]


def test_files_in_the_test_directory_are_bounded():
    program = ("import os\nfor i in range(1000):\n    with open(f'f{i}', 'wb') as f:\n"
               "        f.write(b'x' * (1 << 20))\nprint(1)\n")
    with Executor(ExecutorConfig(**dict(TEST_LIMITS, time_limit_s=5.0), disk_limit_mb=32)) as executor:
        t0 = time.monotonic()
        r = executor.run(Job(program, ONE))
        assert r.verdict == Verdict.RUNTIME_ERROR and r.tests[0].error_type == "DiskLimitExceeded", r.summary()
        assert time.monotonic() - t0 < 10
        assert executor.run(Job("import os\nprint(len(os.listdir('.')))", TestCases("stdin", ("",), ("0\n",)))).passed


def test_a_replaced_test_directory_still_confines_the_next_test(tmp_path, monkeypatch):
    """When emptying its test directory fails, a worker replaces it; the test process already forked
    for the old directory then builds its Landlock rules for the new one."""
    from stepcoder_lib.executor import sandbox, worker

    w = worker.Worker(str(tmp_path / "w"), sandbox.default_read_roots(), 65534 if os.geteuid() == 0 else None)
    job = {"program": "import os\nopen('f', 'w').write('x')\nprint(len(os.listdir('.')))\n"
                      f"open({str(tmp_path / 'outside.txt')!r}, 'w').write('x')\n",
           "format": "stdin", "inputs": [""], "fn_name": None, "setup_code": "", "cpu_limit_s": 1.0,
           "wall_limit_s": 4.0, "program_wall_s": 100, "memory_bytes": 512 << 20, "output_limit": 1 << 20,
           "coverage": False, "early_stop": True, "excerpt_chars": 1000, "max_threads": 1024, "prelude": "none",
           "disk_limit": 1 << 28}
    try:
        first = w.run_job(job)["outcomes"][0]
        inode = os.stat(w.test_dir).st_ino
        real, calls = worker.clear_dir, []

        def fails_once(path):
            calls.append(path)
            if len(calls) == 1:
                raise OSError("simulated")
            return real(path)

        monkeypatch.setattr(worker, "clear_dir", fails_once)
        w.run_job(job)
        monkeypatch.undo()
        assert os.stat(w.test_dir).st_ino != inode  # replaced
        after = [w.run_job(job)["outcomes"][0] for _ in range(2)]
    finally:
        os.kill(w.zygote, 9)
        os.waitpid(w.zygote, 0)
        worker.remove_tree(w.base_dir)
    for out in [first, *after]:
        assert out["stdout"] == b"1\n"  # wrote in its own (new) directory, which was empty
        assert out["report"]["exc_type"] == "PermissionError"  # and nowhere else
    assert not (tmp_path / "outside.txt").exists()


def test_an_executor_killed_without_closing_leaves_nothing_behind():
    import sys

    code = ("import os, sys\nfrom stepcoder_lib.executor import Executor, ExecutorConfig, Job\n"
            "from stepcoder_lib.executor.testcases import TestCases\n"
            "ex = Executor(ExecutorConfig(workers=2, time_limit_s=1.0))\n"
            "ex.run_batch([Job('print(1)', TestCases('stdin', ('',), ('1\\n',)))] * 4, progress=False)\n"
            "print(ex._tmp, *[w.proc.pid for w in ex._all], flush=True)\n"
            "os.kill(os.getpid(), 9)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    tmp, *pids = done.stdout.split()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (os.path.exists(tmp) or any(os.path.exists(f"/proc/{p}") for p in pids)):
        time.sleep(0.1)
    assert not os.path.exists(tmp), os.listdir(tmp)
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
