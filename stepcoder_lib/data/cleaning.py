"""APPS -> APPS+: the paper's cleaning, one function per stage, every drop with its reason.

Stages (``STAGES``; each returns what it keeps and a ``Dropped`` record per problem it drops):

0. ``read``         read every problem (``apps.read_apps``: the APPS split comes from the source,
                    never from a file name); a corrupt file, an unreadable encoding, a row in an
                    unusable format or a repeated id drops that problem.
1. ``require``      drop problems missing tests, inputs, outputs, solutions (or the statement).
2. ``standardise``  stdin tests as text with ``\\n`` newlines (lists of lines joined); call-based
                    inputs as argument lists; stdin solutions written for APPS's harness (a
                    top-level ``return``, a module-level ``nonlocal``) become standalone programs
                    (``def main(): ...`` + ``main()``, noted); malformed tests drop the problem.
3. ``execute``      run candidate solutions in the executor and choose the canonical one (see
                    "Time limits" below). Round r runs candidate r of every still-unresolved
                    problem in one batch (at most ``max_candidates`` rounds), and ``answer_checks``
                    more candidates run after the chosen one, as evidence for stage 4. Where every
                    call-based output is a one-element list and the canonical solution returns the
                    element (the executor's ``unwrapped`` rule accepted every test), the outputs
                    are unwrapped, re-verified, and ``metadata["outputs_unwrapped"]`` says so. A
                    problem with no passing candidate is dropped with the FIRST candidate's failure
                    class (the solution APPS lists first; every candidate's class is in the detail):
                    syntax error, python 2 code, missing library, removed API, timeout, runtime
                    error, wrong output.
4. ``answers``      problems whose answer is not unique, which APPS (no checker) cannot judge: the
                    statement says so ("print any of them", "in any order", "if there are several
                    answers") or candidates that pass some tests print, on every test they fail,
                    the expected tokens in another order, two of them in two different orders of
                    one test's answer. Dropped as ``several valid
                    answers`` by default; ``several_answers="keep"`` keeps them with
                    ``metadata["several_answers"]``. A single reordering, or candidates that pass
                    some tests and answer another differently, are only noted
                    (``metadata["answer_evidence"]``): a near-miss wrong solution can look the same.
5. ``extract``      the canonical solution's conditional statements (``conditionals.
                    extract_conditionals``: start/end chars and lines, the CCCS input) and
                    the starter code: for call-based problems the solution up to and including the
                    ``def <fn_name>(...):`` line (a prefix of the solution, as the paper defines it);
                    empty for stdin problems.
6. ``split``        deterministic train / validation / test per difficulty (see ``assign_splits``);
                    problems of APPS's own test split are always test.
7. write            ``apps_plus.jsonl`` (one ``Problem.to_dict()`` per line, ``schema_version``
                    in each), ``dropped.jsonl``, ``report.json``, ``report.md`` and the plots.

**Time limits, and why reruns are byte-identical.** ``time_limit_s`` is the training limit T.
Candidates run under the selection limit ``headroom`` x T (4 T by default), so a correct but slow
solution passes whatever the machine's speed or load. The canonical solution is the first
passing candidate whose slowest test needs at most T / ``headroom`` of CPU, else the first passing
one; ``metadata["time_limit_s"]`` records the limit training should use for the problem in two
coarse steps: T when the canonical solution fits, else the selection limit. Measured times are
kept in memory only (``CleaningResult.measured_cpu_s``), drop details carry no measured number
and no machine path, outputs are sorted and carry no timestamps, so a rerun writes the same bytes
unless a candidate's CPU time sits within the machine's noise of T / ``headroom`` or of the
selection limit.

A crash while handling one problem drops that problem (reason ``crash``) and the run goes on.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import math
import re
import time
import tokenize
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepcoder_lib.data.apps import (
    UNSUPPORTED_FORMAT,
    RawApps,
    load_apps_plus,
    raw_to_problem,
    read_apps,
    string_solutions,
)
from stepcoder_lib.data.conditionals import extract_conditionals
from stepcoder_lib.data.problem import DataError, Problem, iter_jsonl, write_jsonl
from stepcoder_lib.data.report import CleaningReport, write_report
from stepcoder_lib.executor import ExecutionResult, Executor, ExecutorConfig, Job, Verdict
from stepcoder_lib.executor.testcases import TestCases

STAGES: tuple[str, ...] = ("read", "require", "standardise", "execute", "answers", "extract", "split")

# Drop reasons (the report counts these; keep them stable).
MISSING_STATEMENT = "missing statement"
MISSING_TESTS = "missing tests"
MISSING_INPUTS = "missing inputs"
MISSING_OUTPUTS = "missing outputs"
MISSING_SOLUTIONS = "missing solutions"
MALFORMED_TESTS = "malformed tests"
SYNTAX_ERROR = "syntax error"
PYTHON2 = "python 2 code"
MISSING_LIBRARY = "missing library"
REMOVED_API = "removed API"
RUNTIME_ERROR = "runtime error"
WRONG_OUTPUT = "wrong output"
TIMEOUT = "timeout"
INVALID_TESTS = "invalid tests"
SEVERAL_ANSWERS = "several valid answers"
EXTRACTION_FAILED = "extraction failed"
CRASH = "crash"
DUPLICATE_ID = "duplicate id"

#: What each drop reason means (the report's sections quote it).
REASONS: dict[str, str] = {
    "corrupt file": "a file or row is not valid JSON",
    "unreadable encoding": "a file or row is not UTF-8",
    "unreadable file": "a file could not be read",
    UNSUPPORTED_FORMAT: "a row in an APPS-derived form that cannot be used as it is",
    DUPLICATE_ID: "a second row with an id already read (the first is kept)",
    MISSING_TESTS: "no tests at all",
    MISSING_INPUTS: "tests without inputs",
    MISSING_OUTPUTS: "tests without expected outputs",
    MISSING_SOLUTIONS: "no candidate solution",
    MISSING_STATEMENT: "no statement",
    MALFORMED_TESTS: "tests of the wrong shape",
    SYNTAX_ERROR: "the first candidate does not compile (not even as APPS's harness would run it)",
    PYTHON2: "the first candidate is Python 2 (print statement, raw_input, xrange, dict.iteritems ...)",
    MISSING_LIBRARY: "the first candidate imports a module that is not installed",
    REMOVED_API: "the first candidate uses a name its module no longer has (from fractions import gcd, time.clock)",
    TIMEOUT: "the first candidate exceeds the selection time limit",
    RUNTIME_ERROR: "the first candidate raises an exception or exceeds the memory limit",
    WRONG_OUTPUT: "the first candidate prints or returns another answer",
    INVALID_TESTS: "the executor refused the tests",
    SEVERAL_ANSWERS: "the answer is not unique and APPS has no checker (statement wording or reordered outputs)",
    EXTRACTION_FAILED: "the canonical solution could not be parsed for its conditional statements",
    CRASH: "the cleaning itself failed on this problem",
}
#: Reasons added for the real APPS data (issue 8); the report gives each its own section.
NEW_REASONS: tuple[str, ...] = (REMOVED_API, PYTHON2, SEVERAL_ANSWERS, UNSUPPORTED_FORMAT)

DEFAULT_HEADROOM = 4.0


@dataclass(frozen=True)
class Dropped:
    """One dropped problem: where (stage), why (reason, from a fixed vocabulary) and the specifics."""

    id: str
    stage: str
    reason: str
    detail: str = ""
    difficulty: str = "unknown"
    source_split: str = ""
    split_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "stage": self.stage, "reason": self.reason, "detail": self.detail,
                "difficulty": self.difficulty, "source_split": self.source_split, "split_source": self.split_source}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Dropped:
        return cls(**{k: d[k] for k in ("id", "stage", "reason", "detail", "difficulty", "source_split")},
                   split_source=d.get("split_source", ""))


_MEASURED = re.compile(r"\s*\(\d+(?:\.\d+)?s\)")  # "(0.98s)": measured times vary run to run
_ABS_PATH = re.compile(r"(?<![\w.~])(?:[A-Za-z]:)?[/\\](?:[^\s'\"()<>:,;/\\]+[/\\])+([^\s'\"()<>:,;/\\]+)")


def clean_detail(text: str) -> str:
    """One line of a drop detail that is the same on every machine: measured times removed and
    absolute paths cut to their last part (``/usr/lib/python3.11/fractions.py`` -> ``fractions.py``)."""
    line = text.splitlines()[0] if text else ""
    return _ABS_PATH.sub(r"\1", _MEASURED.sub("", line))[:300]


def _drop(item: RawApps | Problem, stage: str, reason: str, detail: str = "") -> Dropped:
    if isinstance(item, RawApps):
        split, how = item.source_split, item.split_source
    else:
        split, how = str(item.metadata.get("source_split", "")), str(item.metadata.get("split_source", ""))
    return Dropped(item.id, stage, reason, clean_detail(detail), item.difficulty or "unknown", split, how)


def _crash(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# ----------------------------------------------------------------------------- stage 0
def stage_read(source: Any, splits: Iterable[str] | None = None, source_name: str | None = None,
               progress: bool = False, split: str | None = None) -> tuple[list[RawApps], list[Dropped]]:
    """Stage 0: read every problem; those whose files cannot be read are dropped with the file named."""
    kept, dropped, seen = [], [], set()
    for raw in read_apps(source, splits, source_name, progress, split=split):
        if raw.id in seen:  # e.g. a JSON lines file holding one problem twice: keep the first
            dropped.append(_drop(raw, "read", DUPLICATE_ID, f"{raw.id} appears more than once; the first is kept"))
            continue
        seen.add(raw.id)
        if raw.error:
            dropped.append(_drop(raw, "read", raw.error[0], raw.error[1]))
        else:
            kept.append(raw)
    return kept, dropped


# ----------------------------------------------------------------------------- stage 1
def missing_field(raw: RawApps) -> tuple[str, str] | None:
    """The first thing stage 1 finds missing, as (reason, detail), or None.

    No tests at all (no ``input_output.json``, an empty object, neither inputs nor outputs) is
    ``missing tests``; fewer outputs than inputs is ``missing outputs`` (and vice versa), since
    some tests then have no expected answer.
    """
    io_ = raw.input_output
    if io_ is None:
        return MISSING_TESTS, "no input_output.json"
    if not isinstance(io_, Mapping):
        return MISSING_TESTS, f"input_output is a {type(io_).__name__}, not an object"
    ins, outs = io_.get("inputs"), io_.get("outputs")
    if not ins and not outs:
        return MISSING_TESTS, "input_output has neither inputs nor outputs"
    if not ins:
        return MISSING_INPUTS, "input_output has no inputs"
    if not outs:
        return MISSING_OUTPUTS, "input_output has no outputs"
    if isinstance(ins, list) and isinstance(outs, list) and len(ins) != len(outs):
        which = MISSING_OUTPUTS if len(outs) < len(ins) else MISSING_INPUTS
        return which, f"input_output has {len(outs)} outputs for {len(ins)} inputs"
    if raw.solutions is None:
        return MISSING_SOLUTIONS, "no solutions.json"
    if not string_solutions(raw.solutions):
        return MISSING_SOLUTIONS, "solutions.json holds no solution"
    if not (raw.question or "").strip():
        return MISSING_STATEMENT, "no question.txt or it is empty"
    return None


def stage_require(raws: Sequence[RawApps]) -> tuple[list[RawApps], list[Dropped]]:
    """Stage 1: drop problems missing inputs, outputs or solutions (or a statement)."""
    kept, dropped = [], []
    for raw in raws:
        try:
            miss = missing_field(raw)
        except Exception as exc:  # one odd record must not stop the run
            dropped.append(_drop(raw, "require", CRASH, _crash(exc)))
            continue
        if miss:
            dropped.append(_drop(raw, "require", *miss))
        else:
            kept.append(raw)
    return kept, dropped


# ----------------------------------------------------------------------------- stage 2
def standardise(raw: RawApps) -> Problem:
    """One RawApps -> Problem with standardised tests and solutions (``apps.raw_to_problem``); the
    APPS starter code moves to metadata (stage 5 derives the APPS+ one), the split comes in stage 6."""
    return raw_to_problem(raw).replace(starter_code="", split="")


def stage_standardise(raws: Sequence[RawApps]) -> tuple[list[Problem], list[Dropped]]:
    """Stage 2: standardise tests and solutions; malformed tests drop the problem (field named)."""
    kept, dropped = [], []
    for raw in raws:
        try:
            kept.append(standardise(raw))
        except DataError as exc:
            dropped.append(_drop(raw, "standardise", MALFORMED_TESTS, str(exc)))
        except Exception as exc:
            dropped.append(_drop(raw, "standardise", CRASH, _crash(exc)))
    return kept, dropped


# ----------------------------------------------------------------------------- stage 3
_SYNTAX = ("SyntaxError", "IndentationError", "TabError")
_PY2_NAMES = frozenset({"raw_input", "xrange", "unicode", "long", "unichr", "basestring", "cmp", "execfile", "file",
                        "reload", "intern", "apply", "buffer", "reduce"})
_PY2_ATTRS = re.compile(r"object has no attribute '(iteritems|iterkeys|itervalues|has_key|viewitems|viewkeys|"
                        r"viewvalues)'")
_MISSING_MODULE_ATTR = re.compile(r"module '[\w.]+' has no attribute")


def classify_failure(result: Any, time_limit_s: float | None = None) -> tuple[str, str]:
    """Drop reason and a one-line detail (no measured number, no machine path) for a failed result.

    ``time_limit_s`` is the limit the program ran under; a timeout's detail names it rather than
    the measured time (or whether the CPU or the wall-clock backstop fired), which vary by load.
    """
    v = result.verdict
    bad = next((t for t in result.tests if t.verdict not in (Verdict.PASSED, Verdict.NOT_RUN)), None)
    detail = (result.error or (f"test {bad.index}: {bad.detail}" if bad is not None else "")) or v.value
    detail = clean_detail(detail) or v.value
    types = [(t.error_type, t.detail) for t in result.tests if t.error_type]
    if v == Verdict.COMPILE_ERROR or any(et in _SYNTAX for et, _ in types):
        if "Missing parentheses in call to 'print'" in detail or "Missing parentheses in call to 'exec'" in detail:
            return PYTHON2, detail
        return SYNTAX_ERROR, detail
    undefined = {m.group(1) for et, d in types if et == "NameError"
                 for m in [re.search(r"name '(\w+)' is not defined", d or "")] if m}
    if undefined & _PY2_NAMES or any(et == "AttributeError" and _PY2_ATTRS.search(d or "") for et, d in types):
        return PYTHON2, detail
    if any(et == "ModuleNotFoundError" for et, _ in types):
        return MISSING_LIBRARY, detail
    if any(et == "ImportError" or (et == "AttributeError" and _MISSING_MODULE_ATTR.search(d or ""))
           for et, d in types):
        return REMOVED_API, detail
    if v == Verdict.TIMEOUT:
        where = f"test {bad.index}: " if bad is not None else ""
        limit = f" {time_limit_s:g}s" if time_limit_s else ""
        return TIMEOUT, f"{where}time limit{limit} exceeded"
    if v in (Verdict.RUNTIME_ERROR, Verdict.MEMORY_EXCEEDED):
        return RUNTIME_ERROR, detail
    if v == Verdict.WRONG_ANSWER:
        return WRONG_OUTPUT, detail
    if v == Verdict.INVALID_JOB:
        return INVALID_TESTS, detail
    return RUNTIME_ERROR, detail


def _run_jobs(executor: Any, jobs: list[Any], progress: bool | str) -> list[Any]:
    """``run_batch``; should the batch itself fail, judge job by job so one bad job drops only itself."""
    try:
        return executor.run_batch(jobs, progress=progress)
    except Exception:
        out = []
        for job in jobs:
            try:
                out.append(executor.run(job))
            except Exception as exc:
                out.append(exc)
        return out


def candidates_of(problem: Problem) -> tuple[str, ...]:
    """The programs to try for a problem: its solutions, else its canonical solution."""
    if problem.solutions:
        return problem.solutions
    return (problem.canonical_solution,) if problem.canonical_solution else ()


def run_candidates(executor: Any, problems: Sequence[Problem], *, max_candidates: int,
                   enough: Callable[[Problem, list[Any]], bool], time_limit_s: float | None = None,
                   progress: bool | str = False) -> dict[str, list[Any]]:
    """Run candidate solutions round by round: round r runs candidate r of every problem for which
    ``enough(problem, results so far)`` is false, all in one batch. Returns each problem's results in
    candidate order (an ``ExecutionResult``, or the exception that judging it raised: that problem
    then stops). Used by the cleaning's stage 3 and by ``make validate-real``."""
    results: dict[str, list[Any]] = {p.id: [] for p in problems}
    for rnd in range(max_candidates):
        todo = [p for p in problems if rnd < len(candidates_of(p)) and not (
            results[p.id] and isinstance(results[p.id][-1], Exception)) and not enough(p, results[p.id])]
        if not todo:
            break
        jobs = [Job(program=candidates_of(p)[rnd], tests=p.tests, problem_id=p.id, time_limit_s=time_limit_s)
                for p in todo]
        label = (f"{progress}: candidate {rnd + 1}" if isinstance(progress, str) else f"candidate {rnd + 1}") \
            if progress else False
        for p, res in zip(todo, _run_jobs(executor, jobs, label)):
            results[p.id].append(res)
    return results


def slowest_test_cpu(result: Any) -> float:
    """The CPU seconds of a result's slowest test."""
    return max((t.cpu_s for t in result.tests), default=0.0)


def choose_canonical(results: Sequence[ExecutionResult | BaseException], time_limit_s: float,
                     headroom: float = DEFAULT_HEADROOM
                     ) -> tuple[int, bool] | None:
    """(index, fits) of the canonical candidate: the first passing one whose slowest test needs at
    most ``time_limit_s / headroom`` CPU seconds (fits), else the first passing one; None if none passed."""
    first_passing = None
    for k, r in enumerate(results):
        if isinstance(r, BaseException) or not r.passed:
            continue
        if slowest_test_cpu(r) <= time_limit_s / headroom:
            return k, True
        if first_passing is None:
            first_passing = k
    return (first_passing, False) if first_passing is not None else None


def _unwrappable(tests: TestCases) -> bool:
    return tests.format == "call" and all(isinstance(o, list) and len(o) == 1 for o in tests.outputs)


def _reordered(got: str, expected: Any, excerpt_chars: int) -> bool:
    """Whether ``got`` holds exactly the expected tokens in another order (and is not an excerpt)."""
    if not isinstance(expected, str) or len(got) >= excerpt_chars:
        return False
    g, e = got.split(), expected.split()
    return len(e) > 1 and g != e and sorted(g) == sorted(e)


def answer_evidence(problem: Problem, results: Sequence[ExecutionResult | BaseException], canonical: int,
                    excerpt_chars: int = 1000
                    ) -> dict[str, Any]:
    """What the candidates say about whether the answer is unique (stage 4 reads it).

    ``reordered_output`` (with ``reordering_candidates`` and ``distinct_orders``): candidates that pass
    some tests and print, on every test they fail, the expected tokens in another order, one of those
    tests having 3 tokens or more ("in any order" problems). Stage 4 needs two different orders of
    one test's answer: one reordering, or two identical ones, can be near-misses that moved a count
    between two counters and so swapped them (measured on the synthetic dataset).
    ``candidates_disagree``: a candidate that passes some tests answers another differently (also what
    a near-miss wrong solution does).
    """
    evidence: dict[str, Any] = {}
    reordering: list[str] = []
    orders: dict[int, set[str]] = {}  # test -> the distinct reorderings of its expected tokens seen
    for k, r in enumerate(results):
        if k == canonical or isinstance(r, BaseException) or r.verdict != Verdict.WRONG_ANSWER:
            continue
        n_pass = sum(t.passed for t in r.tests)
        wrong = [t for t in r.tests if t.verdict == Verdict.WRONG_ANSWER]
        if not n_pass or not wrong:
            continue
        evidence.setdefault("candidates_disagree", f"candidate #{k} passes {n_pass} of {len(r.tests)} tests and "
                                                   f"answers test {wrong[0].index} differently")
        expected = [str(problem.tests.outputs[t.index]) for t in wrong]
        if problem.format == "stdin" and max(len(e.split()) for e in expected) > 2 and all(
                _reordered(t.stdout, e, excerpt_chars) for t, e in zip(wrong, expected)):
            evidence.setdefault("reordering_candidates", []).append(k)
            for t in wrong:
                orders.setdefault(t.index, set()).add(" ".join(t.stdout.split()))
            reordering.append(f"#{k} (passes {n_pass} of {len(r.tests)}, reorders test "
                              f"{', '.join(str(t.index) for t in wrong)})")
    if reordering:
        evidence["distinct_orders"] = max(len(v) for v in orders.values())
        evidence["reordered_output"] = ("candidate" + ("s " if len(reordering) > 1 else " ") + "; ".join(reordering)
                                        + ": the expected tokens in another order on every test failed")
    return evidence


def stage_execute(problems: Sequence[Problem], *, executor: Any = None, executor_config: Any = None,
                  max_candidates: int = 10, keep_all_solutions: bool = False, progress: bool = True,
                  time_limit_s: float | None = None, headroom: float = DEFAULT_HEADROOM, answer_checks: int = 2,
                  measured_cpu_s: dict[str, float] | None = None) -> tuple[list[Problem], list[Dropped]]:
    """Stage 3: choose each problem's canonical solution by running its candidates (see module doc).

    ``executor``: an open ``Executor`` to use (left open); otherwise one is made from
    ``executor_config`` (an ``ExecutorConfig``) and closed afterwards. ``time_limit_s`` (the
    training limit; default: the executor's) and ``headroom`` set the selection limit
    (``time_limit_s * headroom``) and what fits (``time_limit_s / headroom``). The canonical
    solution's slowest test's CPU time goes into ``measured_cpu_s`` when given (never to disk).
    """
    if max_candidates < 1:
        raise ValueError(f"max_candidates must be >= 1, got {max_candidates}")
    if headroom < 1:
        raise ValueError(f"headroom must be >= 1, got {headroom}")
    own = executor is None
    ex = Executor(executor_config or ExecutorConfig()) if own else executor
    if time_limit_s is None:
        time_limit_s = float(getattr(getattr(ex, "config", None), "time_limit_s", 4.0))
    try:
        return _execute(problems, ex, max_candidates, keep_all_solutions, progress, time_limit_s, headroom,
                        answer_checks, measured_cpu_s)
    finally:
        if own:
            ex.close()


def _execute(problems: Sequence[Problem], ex: Any, max_candidates: int, keep_all: bool, progress: bool,
             limit: float, headroom: float, answer_checks: int, measured: dict[str, float] | None
             ) -> tuple[list[Problem], list[Dropped]]:
    selection = limit * headroom

    def enough(p: Problem, rs: list[Any]) -> bool:
        choice = choose_canonical(rs, limit, headroom)
        return choice is not None and choice[1] and len(rs) - 1 - choice[0] >= answer_checks

    runs = run_candidates(ex, problems, max_candidates=max_candidates, enough=enough, time_limit_s=selection,
                          progress="stage 3" if progress else False)
    chosen = {p.id: choose_canonical(runs[p.id], limit, headroom) for p in problems}
    crashed = {p.id: _crash(r) for p in problems for r in runs[p.id][-1:] if isinstance(r, BaseException)}

    # unwrap APPS's extra list where the canonical solution returns the element; verify by running.
    kept_tests: dict[str, TestCases] = {}
    to_verify = []
    canonical = {p.id: choice[0] for p in problems if (choice := chosen[p.id]) is not None}
    for p in problems:
        if p.id in crashed or p.id not in canonical or not _unwrappable(p.tests):
            continue
        accepted_by = [t.rule for t in runs[p.id][canonical[p.id]].tests]
        if accepted_by and all(r == "unwrapped" for r in accepted_by):
            kept_tests[p.id] = TestCases("call", p.tests.inputs, tuple(o[0] for o in p.tests.outputs),
                                         fn_name=p.tests.fn_name, setup_code=p.tests.setup_code)
            to_verify.append(p)
    if to_verify:
        jobs = [Job(program=p.solutions[canonical[p.id]], tests=kept_tests[p.id], problem_id=p.id,
                    time_limit_s=selection) for p in to_verify]
        for p, res in zip(to_verify, _run_jobs(ex, jobs, "stage 3: verify unwrapped outputs" if progress else False)):
            if isinstance(res, Exception) or not res.passed:
                del kept_tests[p.id]  # keep the stored form; the executor accepts it through its rule

    excerpt = int(getattr(getattr(ex, "config", None), "excerpt_chars", 1000))
    kept, dropped = [], []
    for p in problems:
        rs, choice = runs[p.id], chosen[p.id]
        if p.id in crashed:
            dropped.append(_drop(p, "execute", CRASH, crashed[p.id]))
        elif choice is not None:
            k, fits = choice
            res = rs[k]
            if measured is not None:
                measured[p.id] = slowest_test_cpu(res)
            rules: dict[str, int] = {}
            for t in res.tests:
                rules[t.rule or "?"] = rules.get(t.rule or "?", 0) + 1
            tests = kept_tests.get(p.id, p.tests)
            meta = {**p.metadata, "canonical_index": k, "n_candidate_solutions": len(p.solutions),
                    "candidates_run": len(rs), "comparison_rules": dict(sorted(rules.items())),
                    "time_limit_s": limit if fits else selection,
                    "canonical_wrapped": k in p.metadata.get("standardised", {}).get("wrapped_solutions", ())}
            evidence = answer_evidence(p, rs, k, excerpt)
            if evidence:
                meta["answer_evidence"] = evidence
            if p.format == "call":
                meta["outputs_unwrapped"] = p.id in kept_tests
            kept.append(p.replace(canonical_solution=p.solutions[k], tests=tests, metadata=meta,
                                  solutions=p.solutions if keep_all else (p.solutions[k],)))
        elif not rs:
            dropped.append(_drop(p, "execute", MISSING_SOLUTIONS, "no candidate solution to run"))
        else:
            fails = [(k, *classify_failure(r, selection)) for k, r in enumerate(rs)]
            tried = "; ".join(f"#{k}: {r}" for k, r, _ in fails)
            dropped.append(_drop(p, "execute", fails[0][1], f"{fails[0][2]} [candidates tried: {tried}]"))
    return kept, dropped


# ----------------------------------------------------------------------------- stage 4
_SEVERAL = re.compile(
    r"\bif there (?:are|is|exist|exists) (?:multiple|several|many|more than one)(?: \w+){0,2}? "
    r"(?:answers?|solutions?|ways|possibilities|options|variants)\b", re.I)
_ANY = re.compile(
    r"\b(?:in any order|in arbitrary order|any of them|any one of them|any of these|any of those|"
    r"(?:print|output|return) any|any (?:such|valid|possible|correct|suitable|optimal) \w+)\b", re.I)
_OUTPUT_VERB = re.compile(r"\b(?:print|prints|output|outputs|return|returns|write|answer|you can|you may|"
                          r"accepted|acceptable|allowed)\b", re.I)
_TIE_BREAK = re.compile(r"\b(?:smallest|largest|lexicographic\w*|minimum|maximum|minimal|maximal|first|earliest|"
                        r"leftmost|rightmost|shortest|longest|least|greatest)\b", re.I)


def statement_allows_several_answers(statement: str) -> str | None:
    """The phrase of ``statement`` saying the answer need not be unique, or None.

    In one sentence: "in any order", "any of them", "print any", "any valid <noun>" and the like
    next to an output verb (print, output, you may, accepted ...; "the numbers are given in any
    order" speaks of the input: no match), or "if there are several answers/solutions/ways" without
    a tie-break ("... print the lexicographically smallest": the answer is unique again).
    """
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", statement):
        m = _ANY.search(sentence)
        if m is not None and not _OUTPUT_VERB.search(sentence):
            m = None
        if m is None:
            m = _SEVERAL.search(sentence)
            if m is not None and _TIE_BREAK.search(sentence):
                m = None
        if m is not None:
            return " ".join(m.group(0).lower().split())
    return None


def several_answers_evidence(problem: Problem) -> list[str]:
    """Why ``problem`` may have several valid answers (empty: no sign of it): the statement's wording,
    or candidates printing one test's expected tokens in two different other orders
    (``answer_evidence``). Other output evidence is quoted only next to one of these."""
    out = []
    phrase = statement_allows_several_answers(problem.statement)
    if phrase:
        out.append(f"statement: '{phrase}'")
    evidence = problem.metadata.get("answer_evidence", {})
    if evidence.get("distinct_orders", 0) >= 2:
        out.append(f"outputs: {evidence['reordered_output']}")
    elif out and ("reordered_output" in evidence or "candidates_disagree" in evidence):
        out.append(f"outputs: {evidence.get('reordered_output') or evidence['candidates_disagree']}")
    return out


def stage_answers(problems: Sequence[Problem], policy: str = "drop") -> tuple[list[Problem], list[Dropped]]:
    """Stage 4: problems whose answer is not unique are dropped (``policy="drop"``) or kept with
    ``metadata["several_answers"]`` listing the evidence (``policy="keep"``)."""
    if policy not in ("drop", "keep"):
        raise ValueError(f"several_answers must be 'drop' or 'keep', got {policy!r}")
    kept, dropped = [], []
    for p in problems:
        try:
            evidence = several_answers_evidence(p)
        except Exception as exc:
            dropped.append(_drop(p, "answers", CRASH, _crash(exc)))
            continue
        if evidence and policy == "drop":
            dropped.append(_drop(p, "answers", SEVERAL_ANSWERS, "; ".join(evidence)))
        elif evidence:
            kept.append(p.replace(metadata={**p.metadata, "several_answers": evidence}))
        else:
            kept.append(p)
    return kept, dropped


# ----------------------------------------------------------------------------- stage 5
def _find_function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """``def name`` at module level, else as a method of ``class Solution``, else of any top-level class."""
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, funcs) and node.name == name:
            return node
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    classes.sort(key=lambda c: c.name != "Solution")
    for cls in classes:
        for node in cls.body:
            if isinstance(node, funcs) and node.name == name:
                return node
    return None


def extract_starter_code(source: str, fn_name: str | None) -> str:
    """The beginning of ``source`` up to and including the signature of ``fn_name`` ("" if none).

    The signature ends at the ``:`` closing the ``def`` header (found with the tokenizer, so
    annotations, defaults and multi-line parameter lists are handled); the starter code runs to
    the end of that line, so it is always a prefix of ``source``.
    """
    if not fn_name:
        return ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        tree = ast.parse(source)
    node = _find_function(tree, fn_name)
    if node is None:
        return ""
    lines = source.splitlines(keepends=True)
    start = sum(len(x) for x in lines[: node.lineno - 1])
    depth, seen_def = 0, False
    tokens = tokenize.generate_tokens(io.StringIO(source[start:]).readline)
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string == "def":
            seen_def = True
        elif tok.type == tokenize.OP and seen_def:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                row, col = tok.end
                rel_lines = source[start:].splitlines(keepends=True)
                colon = start + sum(len(x) for x in rel_lines[: row - 1]) + col
                rest = source[colon:]
                nl = rest.find("\n")
                if nl == -1 or rest[:nl].strip() and not rest[:nl].strip().startswith("#"):
                    return source[:colon]  # body on the same line (or no newline): stop at the colon
                return source[: colon + nl + 1]
    return ""


def extract(problem: Problem) -> Problem:
    """Stage 5 for one problem: conditionals and starter code of its canonical solution."""
    sol = problem.canonical_solution
    if sol is None:
        raise DataError(f"problem {problem.id}: field 'canonical_solution' is empty")
    conds = tuple(extract_conditionals(sol))
    starter = extract_starter_code(sol, problem.tests.fn_name) if problem.format == "call" else ""
    meta = dict(problem.metadata)
    if problem.format == "call":
        meta["starter_code_found"] = bool(starter)
    return problem.replace(conditionals=conds, starter_code=starter, metadata=meta)


def stage_extract(problems: Sequence[Problem]) -> tuple[list[Problem], list[Dropped]]:
    """Stage 5: conditionals + starter code; a solution that does not parse here is dropped."""
    kept, dropped = [], []
    for p in problems:
        try:
            kept.append(extract(p))
        except (SyntaxError, ValueError, DataError) as exc:
            dropped.append(_drop(p, "extract", EXTRACTION_FAILED, _crash(exc)))
        except Exception as exc:
            dropped.append(_drop(p, "extract", CRASH, _crash(exc)))
    return kept, dropped


# ----------------------------------------------------------------------------- stage 6
def _rank_key(seed: int, pid: str) -> str:
    """Process-independent order (hashlib, not ``hash()``, which is salted per process)."""
    return hashlib.sha256(f"{seed}:{pid}".encode()).hexdigest()


def _counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Split n by fractions with round-half-up, the remainder going to the last part."""
    total = sum(fractions)
    counts, used = [], 0
    for f in fractions[:-1]:
        c = min(n - used, int(math.floor(n * f / total + 0.5)))
        counts.append(c)
        used += c
    return counts + [n - used]


def assign_splits(problems: Sequence[Problem], seed: int = 0, fractions: Sequence[float] = (0.5, 0.25, 0.25),
                  respect_source_split: bool = True) -> list[Problem]:
    """Stage 6: train / validation / test per difficulty, deterministic in (ids, seed).

    A problem of the source's ``test`` split (APPS's own test split, the generator's held-out
    problems: ``metadata["source_split"]``) is always ``test``: it never enters training or
    validation. The others are ordered by sha256(seed:id) within each difficulty and cut by
    ``fractions`` (train, validation, test): with ``respect_source_split`` (default) into train and
    validation in the ratio of the first two fractions, the source's test split being the test
    split; with ``respect_source_split=False`` into all three (the paper's ~50/25/25 of the pool).
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"fractions must be three non-negative numbers (train, validation, test), got {fractions}")
    by_diff: dict[str, list[Problem]] = {}
    for p in problems:
        by_diff.setdefault(p.difficulty, []).append(p)
    out = []
    for diff in sorted(by_diff):
        group = sorted(by_diff[diff], key=lambda p: _rank_key(seed, p.id))
        held = [p for p in group if p.metadata.get("source_split") == "test"]
        rest = [p for p in group if p.metadata.get("source_split") != "test"]
        out += [p.replace(split="test") for p in held]
        if respect_source_split:
            n_train = _counts(len(rest), fractions[:2])[0] if sum(fractions[:2]) > 0 else len(rest)
            parts: tuple[tuple[str, list[Problem]], ...] = (("train", rest[:n_train]), ("validation", rest[n_train:]))
        else:
            n_train, n_val, _ = _counts(len(rest), fractions)
            parts = (("train", rest[:n_train]), ("validation", rest[n_train:n_train + n_val]),
                     ("test", rest[n_train + n_val:]))
        for name, items in parts:
            out += [p.replace(split=name) for p in items]
    return sorted(out, key=lambda p: p.id)


# ----------------------------------------------------------------------------- the pipeline
@dataclass
class CleaningResult:
    """Kept problems (with splits), every dropped problem, per-stage counts, and the report.

    ``timings`` (seconds per stage) and ``measured_cpu_s`` (the canonical solution's slowest test)
    vary from run to run and are never written to disk.
    """

    problems: list[Problem]
    dropped: list[Dropped]
    stage_counts: list[dict[str, Any]]
    settings: dict[str, Any]
    source_name: str
    n_input: int
    timings: dict[str, float] = field(default_factory=dict)
    measured_cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def report(self) -> Any:
        return CleaningReport.from_result(self, REASONS, NEW_REASONS)

    @classmethod
    def load(cls, out_dir: str | Path) -> CleaningResult:
        """A result as ``write`` left it in ``out_dir`` (kept problems, dropped ones, the report's stage
        counts and settings); ``timings`` and ``measured_cpu_s`` are not stored, so they are empty."""

        out = Path(out_dir)
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        dropped = [Dropped.from_dict(d) for _, d in iter_jsonl(out / "dropped.jsonl")]
        return cls(problems=load_apps_plus(out / "apps_plus.jsonl"), dropped=dropped, stage_counts=report["stages"],
                   settings=report["settings"], source_name=report["source"], n_input=report["n_input"])

    def dropped_at(self, stage: str) -> list[Dropped]:
        return [d for d in self.dropped if d.stage == stage]

    def split(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.split == name]

    def write(self, out_dir: str | Path, plots: bool = True) -> dict[str, Path]:
        """Stage 7: APPS+ JSON lines, dropped problems, report (json, md) and plots, byte-stable."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        problems: list[Problem] = sorted(self.problems, key=lambda p: p.id)
        paths = {
            "apps_plus": write_jsonl(out / "apps_plus.jsonl", problems),
            "dropped": write_jsonl(out / "dropped.jsonl",
                                   [d.to_dict() for d in sorted(self.dropped,
                                                                key=lambda d: (STAGES.index(d.stage), d.id))]),
        }
        paths.update(write_report(self.report, out, plots=plots))
        return paths


def clean_apps(source: Any, out_dir: str | Path | None = None, *, splits: Iterable[str] | None = None,
               split: str | None = None, source_name: str | None = None, max_candidates: int = 10, seed: int = 0,
               fractions: Sequence[float] = (0.5, 0.25, 0.25), respect_source_split: bool = True,
               workers: int | None = None, time_limit_s: float | None = None, headroom: float = DEFAULT_HEADROOM,
               answer_checks: int = 2, several_answers: str = "drop", executor: Any = None,
               keep_all_solutions: bool = False, plots: bool = True, progress: bool = True) -> CleaningResult:
    """Run stages 0-6 on an APPS source (folder, JSON lines, hub id, dataset) and, given
    ``out_dir``, write stage 7's files there. Knobs are recorded in the report.

    ``split`` tells the APPS split of a source that does not say it (see ``apps.read_apps``);
    ``time_limit_s`` is the training limit (default: the executor's, else 4 s) and ``headroom``
    sets the selection limit and what fits (module docstring); ``answer_checks`` more candidates
    run after the canonical one as evidence for stage 4; ``several_answers`` is ``"drop"`` or
    ``"keep"`` (stage 4).
    """
    if several_answers not in ("drop", "keep"):
        raise ValueError(f"several_answers must be 'drop' or 'keep', got {several_answers!r}")
    if time_limit_s is None:
        time_limit_s = float(getattr(getattr(executor, "config", None), "time_limit_s", 4.0))
    settings = {"max_candidates": max_candidates, "seed": seed, "fractions": list(fractions),
                "respect_source_split": respect_source_split, "time_limit_s": time_limit_s, "headroom": headroom,
                "selection_time_limit_s": time_limit_s * headroom, "answer_checks": answer_checks,
                "several_answers": several_answers, "keep_all_solutions": keep_all_solutions, "split": split}
    timings: dict[str, float] = {}
    counts: list[dict[str, Any]] = []
    dropped: list[Dropped] = []
    measured: dict[str, float] = {}

    def record(stage: str, n_in: int, kept: Sequence[Any], drops: list[Dropped], t0: float) -> None:
        timings[stage] = round(time.perf_counter() - t0, 3)
        counts.append({"stage": stage, "in": n_in, "kept": len(kept), "dropped": len(drops)})
        dropped.extend(drops)

    t0 = time.perf_counter()
    raws, drops = stage_read(source, splits, source_name, progress, split)
    n_input = len(raws) + len(drops)
    name = (raws[0].source if raws else source_name) or "apps"
    record("read", n_input, raws, drops, t0)

    t0 = time.perf_counter()
    raws2, drops = stage_require(raws)
    record("require", len(raws), raws2, drops, t0)

    t0 = time.perf_counter()
    problems, drops = stage_standardise(raws2)
    record("standardise", len(raws2), problems, drops, t0)

    t0 = time.perf_counter()
    if problems:
        cfg = None if executor is not None else ExecutorConfig(workers=workers, time_limit_s=time_limit_s)
        executed, drops = stage_execute(problems, executor=executor, executor_config=cfg,
                                        max_candidates=max_candidates, keep_all_solutions=keep_all_solutions,
                                        progress=progress, time_limit_s=time_limit_s, headroom=headroom,
                                        answer_checks=answer_checks, measured_cpu_s=measured)
    else:
        executed, drops = [], []
    record("execute", len(problems), executed, drops, t0)

    t0 = time.perf_counter()
    answered, drops = stage_answers(executed, several_answers)
    record("answers", len(executed), answered, drops, t0)

    t0 = time.perf_counter()
    extracted, drops = stage_extract(answered)
    record("extract", len(answered), extracted, drops, t0)

    t0 = time.perf_counter()
    final = assign_splits(extracted, seed, fractions, respect_source_split)
    record("split", len(extracted), final, [], t0)

    result = CleaningResult(final, sorted(dropped, key=lambda d: (STAGES.index(d.stage), d.id)), counts,
                            settings, name, n_input, timings, measured)
    if out_dir is not None:
        t0 = time.perf_counter()
        result.write(out_dir, plots=plots)
        timings["write"] = round(time.perf_counter() - t0, 3)
    return result


# ----------------------------------------------------------------------------- grading on the benchmark
#: Drop reasons that count as catching each defect kind the benchmark injects.
DEFECT_REASONS: dict[str, frozenset[str]] = {
    "missing_outputs": frozenset({MISSING_TESTS, MISSING_OUTPUTS}),
    "missing_solution": frozenset({MISSING_SOLUTIONS}),
    "wrong_output": frozenset({WRONG_OUTPUT}),
    "syntax_error": frozenset({SYNTAX_ERROR}),
    "missing_import": frozenset({MISSING_LIBRARY}),
    "timeout": frozenset({TIMEOUT}),
}


def grade_against_truth(result: CleaningResult, truth: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
    """Compare a cleaning run with the benchmark's ``truth.json`` (or a ``{problem id: kind}`` map).

    Returns the share of defective problems dropped (``defects_caught``), of clean problems kept
    (``clean_kept``), of caught defects dropped for the matching reason (``reason_agrees``, see
    ``DEFECT_REASONS``), the (kind, reason) confusion counts and the ids that went wrong.
    """
    if "problems" in truth:  # the benchmark's truth.json
        src = source or result.source_name
        kinds = {f"{src}/{r['split']}/{pid}": r["defect"] for pid, r in truth["problems"].items()}
    else:
        kinds = dict(truth)
    kept = {p.id for p in result.problems}
    dropped = {d.id: d for d in result.dropped}
    unknown = sorted(set(kinds) - kept - set(dropped))
    defects = {pid: k for pid, k in kinds.items() if k != "clean"}
    clean = [pid for pid, k in kinds.items() if k == "clean"]
    missed = sorted(pid for pid in defects if pid in kept)
    lost = sorted(pid for pid in clean if pid not in kept)
    caught = [pid for pid in defects if pid in dropped]
    wrong_reason = sorted(pid for pid in caught
                          if dropped[pid].reason not in DEFECT_REASONS.get(defects[pid], {dropped[pid].reason}))
    confusion: dict[str, dict[str, int]] = {}
    for pid, kind in sorted(kinds.items()):
        cell = confusion.setdefault(kind, {})
        what = "kept" if pid in kept else dropped[pid].reason if pid in dropped else "absent"
        cell[what] = cell.get(what, 0) + 1
    return {
        "n_defects": len(defects), "n_clean": len(clean),
        "defects_caught": (len(defects) - len(missed)) / len(defects) if defects else 1.0,
        "clean_kept": (len(clean) - len(lost)) / len(clean) if clean else 1.0,
        "reason_agrees": (len(caught) - len(wrong_reason)) / len(caught) if caught else 1.0,
        "missed_defects": missed, "lost_clean": lost, "wrong_reason": wrong_reason, "not_in_run": unknown,
        "confusion": {k: dict(sorted(v.items())) for k, v in sorted(confusion.items())},
    }
