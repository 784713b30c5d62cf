"""Turn a worker's raw outcomes into verdicts: the only place expected outputs are consulted."""

from __future__ import annotations

import json
import signal
from typing import Any

from ..testcases import TestCases
from .compare import CompareConfig, compare_stdout, compare_value, decode_value, describe_mismatch, excerpt
from .results import RUNTIME_FAMILY, ExecutionResult, RewardTable, TestResult, Verdict

_TIMEOUT_SIGNALS = {signal.SIGXCPU, signal.SIGPROF}


def judge_test(out: dict[str, Any], tests: TestCases, *, cpu_limit: float, memory_bytes: int | None,
               output_limit: int, compare: CompareConfig, excerpt_chars: int) -> TestResult:
    """The verdict of one test from what the sandbox reported and what the test expects."""
    index = out["index"]
    if out.get("status") == "skipped":
        budget = out.get("reason", "").startswith("program time budget")
        return TestResult(index=index, verdict=Verdict.TIMEOUT if budget else Verdict.NOT_RUN,
                          detail=out.get("reason", ""), error_type="Timeout" if budget else None)
    report = out.get("report") or {}
    stdout_bytes: bytes = out.get("stdout", b"")
    stdout = stdout_bytes[:output_limit].decode("utf-8", errors="replace")
    common = dict(index=index, duration_s=round(out["wall_s"], 6), cpu_s=round(out["cpu_s"], 6),
                  max_rss_kb=out["max_rss_kb"], stdout=excerpt(stdout, excerpt_chars),
                  stderr=excerpt(out.get("stderr", b"").decode("utf-8", errors="replace"), excerpt_chars),
                  lines=frozenset(report.get("lines") or ()))

    def result(verdict: Verdict, detail: str = "", rule: str | None = None, error_type: str | None = None) -> TestResult:
        return TestResult(verdict=verdict, detail=detail, rule=rule,
                          error_type=error_type or report.get("exc_type"), **common)

    sig = out.get("signal")
    exc_type = report.get("exc_type")
    if report.get("phase") == "compile" and not report.get("ok") and exc_type:
        return result(Verdict.COMPILE_ERROR, f"{exc_type}: {report.get('exc_msg', '')}")
    if out.get("wall_timeout"):
        return result(Verdict.TIMEOUT, f"wall-clock limit reached ({out['wall_s']:.2f}s)", error_type="Timeout")
    if sig in _TIMEOUT_SIGNALS or (sig == signal.SIGKILL and out["cpu_s"] >= cpu_limit) or out["cpu_s"] > cpu_limit:
        return result(Verdict.TIMEOUT, f"CPU time limit {cpu_limit:g}s exceeded ({out['cpu_s']:.2f}s)",
                      error_type="Timeout")
    if exc_type == "MemoryError":
        return result(Verdict.MEMORY_EXCEEDED, "MemoryError: memory limit reached")
    if out.get("report_overflow") or len(stdout_bytes) > output_limit or exc_type == "OutputError":
        return result(Verdict.RUNTIME_ERROR, "output limit exceeded", error_type="OutputLimitExceeded")
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        near_limit = memory_bytes and out["max_rss_kb"] * 1024 > 0.9 * memory_bytes
        if near_limit:
            return result(Verdict.MEMORY_EXCEEDED, f"killed by {name} near the memory limit", error_type=name)
        return result(Verdict.RUNTIME_ERROR, f"killed by {name}", error_type=name)
    if not report:
        if tests.format == "stdin" and out.get("exit_status") == 0:
            return _judge_stdout(stdout, tests.outputs[index], compare, result)  # os._exit(0) after printing
        return result(Verdict.RUNTIME_ERROR, f"exited (status {out.get('exit_status')}) before the test completed",
                      error_type="EarlyExit")
    if not report.get("ok"):
        msg = f"{exc_type}: {report.get('exc_msg', '')}".rstrip(": ")
        if report.get("line"):
            msg += f" (line {report['line']})"
        if report.get("assertion_failed"):
            return result(Verdict.WRONG_ANSWER, f"assertion failed: {report.get('exc_msg', '')}".rstrip(": "))
        return result(Verdict.RUNTIME_ERROR, msg)
    if tests.format == "stdin":
        return _judge_stdout(stdout, tests.outputs[index], compare, result)
    if tests.format == "call":
        value = decode_value(report.get("value"))
        expected = tests.outputs[index]
        rule = compare_value(value, expected, compare)
        if rule:
            return result(Verdict.PASSED, rule=rule)
        shown = excerpt(json.dumps(report.get("value"), default=str), 200)
        return result(Verdict.WRONG_ANSWER, f"expected {excerpt(json.dumps(expected, default=str), 200)}, got {shown}")
    return result(Verdict.PASSED, rule="asserts")


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
              excerpt_chars: int, coverage: bool) -> ExecutionResult:
    results = [judge_test(o, tests, cpu_limit=cpu_limit, memory_bytes=memory_bytes, output_limit=output_limit,
                          compare=compare, excerpt_chars=excerpt_chars) for o in outcome["outcomes"]]
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
