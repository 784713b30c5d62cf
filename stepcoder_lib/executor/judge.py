"""Turn a worker's raw outcomes into verdicts: the only place expected outputs are consulted.

What the program's own process reports is untrusted: every field is checked for type and range
here, and a field a program could have forged only ever carries what the program could have
produced honestly (an exception it raised, a value it returned). The verdict rests on what the
program printed or returned, the judge process's report (assert-style tests) and what the
kernel says about the process (exit status, signal, CPU time).
"""

from __future__ import annotations

import signal
from typing import Any

from ..testcases import TestCases
from . import values
from .compare import CompareConfig, compare_stdout, compare_value, describe_mismatch, excerpt
from .results import RUNTIME_FAMILY, ExecutionResult, RewardTable, TestResult, Verdict

_CPU_TIMER_SIGNALS = {signal.SIGXCPU, signal.SIGPROF}
_PHASES = {"compile", "program", "test", "done", "setup"}


def _clean_report(report: Any, n_lines: int) -> dict[str, Any]:
    """The program's report with every field checked (anything malformed is dropped)."""
    if not isinstance(report, dict):
        return {}
    out: dict[str, Any] = {}
    if report.get("phase") in _PHASES:
        out["phase"] = report["phase"]
    out["ok"] = report.get("ok") is True
    exc_type = report.get("exc_type")
    if isinstance(exc_type, str) and exc_type.isidentifier():
        out["exc_type"] = exc_type[:100]
    if isinstance(report.get("exc_msg"), str):
        out["exc_msg"] = report["exc_msg"][:500]
    line = report.get("line")
    if type(line) is int and 0 < line <= n_lines:
        out["line"] = line
    lines = report.get("lines")
    if isinstance(lines, list):
        out["lines"] = frozenset(n for n in lines[: n_lines + 1] if type(n) is int and 0 < n <= n_lines)
    if "value" in report:
        out["value"] = report["value"]
    return out


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def judge_test(out: dict[str, Any], tests: TestCases, *, cpu_limit: float, memory_bytes: int | None,
               output_limit: int, compare: CompareConfig, excerpt_chars: int, n_lines: int = 1 << 30) -> TestResult:
    """The verdict of one test from what the sandbox reported and what the test expects."""
    index = out["index"]
    if out.get("status") == "skipped":
        budget = str(out.get("reason", "")).startswith("program time budget")
        return TestResult(index=index, verdict=Verdict.TIMEOUT if budget else Verdict.NOT_RUN,
                          detail=out.get("reason", ""), error_type="Timeout" if budget else None)
    report = _clean_report(out.get("report"), n_lines)
    seen = out.get("lines_seen") or b""  # lines written as they ran: all that is left of a killed test's coverage
    lines = report.get("lines", frozenset()) | {i for i, b in enumerate(seen[: n_lines + 1]) if b and i > 0}
    stdout_bytes: bytes = out.get("stdout", b"")
    stdout = stdout_bytes[:output_limit].decode("utf-8", errors="replace")
    cpu = float(out["cpu_s"])
    common = {"index": index, "duration_s": round(out["wall_s"], 6), "cpu_s": round(cpu, 6),
                  "max_rss_kb": out["max_rss_kb"], "stdout": excerpt(stdout, excerpt_chars),
                  "stderr": excerpt(out.get("stderr", b"").decode("utf-8", errors="replace"), excerpt_chars),
                  "lines": frozenset(lines)}

    def result(verdict: Verdict, detail: str = "", rule: str | None = None,
               error_type: str | None = None) -> TestResult:
        return TestResult(verdict=verdict, detail=detail, rule=rule,
                          error_type=error_type or report.get("exc_type"), **common)

    sig = out.get("signal")
    exc_type = report.get("exc_type")
    if report.get("phase") == "compile" and not report["ok"] and exc_type:
        return result(Verdict.COMPILE_ERROR, f"{exc_type}: {report.get('exc_msg', '')}")
    if out.get("disk_exceeded"):
        return result(Verdict.RUNTIME_ERROR, "disk limit exceeded: too much written to the test's directory",
                      error_type="DiskLimitExceeded")
    if out.get("wall_timeout"):
        return result(Verdict.TIMEOUT, f"wall-clock limit reached ({out['wall_s']:.2f}s)", error_type="Timeout")
    if cpu > cpu_limit or (sig == signal.SIGKILL and cpu >= cpu_limit):
        return result(Verdict.TIMEOUT, f"CPU time limit {cpu_limit:g}s exceeded ({cpu:.2f}s)", error_type="Timeout")
    if sig in _CPU_TIMER_SIGNALS:  # below the limit: the program signalled itself
        name = _signal_name(sig)
        return result(Verdict.RUNTIME_ERROR, f"killed by {name} below the CPU limit ({cpu:.2f}s)", error_type=name)
    if exc_type == "MemoryError":
        return result(Verdict.MEMORY_EXCEEDED, "MemoryError: memory limit reached")
    if out.get("report_overflow") or len(stdout_bytes) > output_limit or exc_type == "OutputError":
        return result(Verdict.RUNTIME_ERROR, "output limit exceeded", error_type="OutputLimitExceeded")
    if sig is not None:
        name = _signal_name(sig)
        if memory_bytes and out["max_rss_kb"] * 1024 > 0.9 * memory_bytes:
            return result(Verdict.MEMORY_EXCEEDED, f"killed by {name} near the memory limit", error_type=name)
        return result(Verdict.RUNTIME_ERROR, f"killed by {name}", error_type=name)
    if tests.format == "assert":
        return _judge_assert(out, report, result)
    if not report:
        if tests.format == "stdin" and out.get("exit_status") == 0:
            return _judge_stdout(stdout, tests.outputs[index], compare, result)  # os._exit(0) after printing
        return result(Verdict.RUNTIME_ERROR, f"exited (status {out.get('exit_status')}) before the test completed",
                      error_type="EarlyExit")
    if not report["ok"]:
        msg = f"{exc_type or 'Error'}: {report.get('exc_msg', '')}".rstrip(": ")
        if report.get("line"):
            msg += f" (line {report['line']})"
        return result(Verdict.RUNTIME_ERROR, msg)
    if tests.format == "stdin":
        return _judge_stdout(stdout, tests.outputs[index], compare, result)
    try:
        value = values.decode(report.get("value"), plain=True)
    except (ValueError, RecursionError) as exc:
        return result(Verdict.RUNTIME_ERROR, f"the returned value could not be read: {exc}", error_type="BadValue")
    expected = tests.outputs[index]
    rule = compare_value(value, expected, compare)
    if rule:
        return result(Verdict.PASSED, rule=rule)
    return result(Verdict.WRONG_ANSWER, f"expected {values.safe_repr(expected)}, got {values.safe_repr(value)}")


def _judge_assert(out: dict[str, Any], report: dict[str, Any], result: Any) -> TestResult:
    """Assert-style tests: the judge process's report decides, the program's fate first."""
    judge: dict[str, Any] = out["judge"] if isinstance(out.get("judge"), dict) else {}
    status = judge.get("status")
    msg = str(judge.get("exc_msg") or "")[:500]
    exc_type = str(judge.get("exc_type") or "")[:100] or None
    if status == "passed":
        return result(Verdict.PASSED, rule="asserts")
    if status == "assertion":
        return result(Verdict.WRONG_ANSWER, f"assertion failed: {msg}".rstrip(": "), error_type="AssertionError")
    if status in ("program_error", "test_error"):
        if exc_type == "MemoryError":
            return result(Verdict.MEMORY_EXCEEDED, "MemoryError: memory limit reached", error_type=exc_type)
        line = judge.get("line")
        detail = f"{exc_type}: {msg}".rstrip(": ") + (f" (line {line})" if type(line) is int else "")
        return result(Verdict.RUNTIME_ERROR, detail, error_type=exc_type)
    if status == "program_gone" or out.get("exit_status") is not None:
        return result(Verdict.RUNTIME_ERROR, f"the program ended (status {out.get('exit_status')}) before the test "
                      f"completed{': ' + msg if msg else ''}", error_type="EarlyExit")
    return result(Verdict.RUNTIME_ERROR, "the test did not complete", error_type="EarlyExit")


def _judge_stdout(stdout: str, expected: str, compare: CompareConfig, result: Any) -> TestResult:
    rule = compare_stdout(stdout, expected, compare)
    if rule:
        return result(Verdict.PASSED, rule=rule)
    return result(Verdict.WRONG_ANSWER, describe_mismatch(stdout, expected))


def program_verdict(tests: list[TestResult]) -> Verdict:
    """Compile error, else the first runtime-family failure, else wrong answer, else passed."""
    verdicts = [t.verdict for t in tests]
    if Verdict.COMPILE_ERROR in verdicts:
        return Verdict.COMPILE_ERROR
    for v in verdicts:
        if v in RUNTIME_FAMILY:
            return v
    if Verdict.WRONG_ANSWER in verdicts:
        return Verdict.WRONG_ANSWER
    if verdicts and all(v == Verdict.PASSED for v in verdicts):
        return Verdict.PASSED
    return Verdict.RUNTIME_ERROR  # tests that never ran to completion cannot pass


def judge_job(problem_id: str, tests: TestCases, outcome: dict[str, Any], *, cpu_limit: float,
              memory_bytes: int | None, output_limit: int, compare: CompareConfig, reward: RewardTable,
              excerpt_chars: int, coverage: bool, program: str = "") -> ExecutionResult:
    n_lines = program.count("\n") + 1 if program else 1 << 30
    results = [judge_test(o, tests, cpu_limit=cpu_limit, memory_bytes=memory_bytes, output_limit=output_limit,
                          compare=compare, excerpt_chars=excerpt_chars, n_lines=n_lines) for o in outcome["outcomes"]]
    ran = {r.index for r in results}
    results += [TestResult(index=i, verdict=Verdict.NOT_RUN, detail="not run: the program did not compile")
                for i in range(len(tests)) if i not in ran]
    results.sort(key=lambda r: r.index)
    verdict = program_verdict(results)
    error = None
    if verdict == Verdict.COMPILE_ERROR:
        error = next(r.detail for r in results if r.verdict == Verdict.COMPILE_ERROR)
    lines = frozenset().union(*(r.lines for r in results)) if coverage else frozenset()
    return ExecutionResult(problem_id=problem_id, verdict=verdict, reward=reward(verdict), tests=tuple(results),
                           executed_lines=lines, coverage=coverage, error=error,
                           duration_s=round(outcome.get("wall_s", 0.0), 6), sandbox=tuple(outcome.get("layers", ())))

