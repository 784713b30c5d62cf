"""APPS -> APPS+: the paper's cleaning, one function per stage, every drop with its reason.

Stages (``STAGES``; each returns what it keeps and a ``Dropped`` record per problem it drops):

0. ``read``         read every problem; a corrupt file / unreadable encoding (or a repeated id)
                    drops that problem.
1. ``require``      drop problems missing tests, inputs, outputs, solutions (or the statement).
2. ``standardise``  stdin tests as text with ``\\n`` newlines (lists of lines joined); call-based
                    inputs as argument lists; malformed tests drop the problem.
3. ``execute``      run candidate solutions in the executor; the first (in stored order) that
                    passes every test becomes the canonical solution. Round r runs candidate r of
                    every still-unresolved problem in one batch (at most ``max_candidates``
                    rounds). Where every call-based output is a one-element list and the
                    canonical solution returns the element (the executor's ``unwrapped`` rule
                    accepted every test), the outputs are unwrapped, re-verified, and
                    ``metadata["outputs_unwrapped"]`` says so. A problem with no passing candidate
                    is dropped with the FIRST candidate's failure class (the solution APPS lists
                    first, the one a reader would look at; every candidate's class is in the
                    detail): syntax error, missing library, timeout, runtime error, wrong output.
4. ``extract``      the canonical solution's conditional statements (``curriculum.
                    find_conditional_statements``: start/end chars and lines, the CCCS input) and
                    the starter code: for call-based problems the solution up to and including the
                    ``def <fn_name>(...):`` line (a prefix of the solution, as the paper defines it);
                    empty for stdin problems.
5. ``split``        deterministic train / validation / test per difficulty (see ``assign_splits``).
6. write            ``apps_plus.jsonl`` (one ``Problem.to_dict()`` per line, ``schema_version``
                    in each), ``dropped.jsonl``, ``report.json``, ``report.md`` and the plots.

A crash while handling one problem drops that problem (reason ``crash``) and the run goes on.
Outputs are sorted and carry no timestamps or absolute paths, so a rerun on the same input writes
byte-identical files (timings are kept in memory only: ``CleaningResult.timings``).
"""

from __future__ import annotations

import ast
import hashlib
import io
import math
import re
import time
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from stepcoder_lib.data.apps import RawApps, raw_to_problem, read_apps, string_solutions
from stepcoder_lib.data.problem import SPLITS, DataError, Problem, write_jsonl
from stepcoder_lib.testcases import TestCases

STAGES: tuple[str, ...] = ("read", "require", "standardise", "execute", "extract", "split")

# Drop reasons (the report counts these; keep them stable).
MISSING_STATEMENT = "missing statement"
MISSING_TESTS = "missing tests"
MISSING_INPUTS = "missing inputs"
MISSING_OUTPUTS = "missing outputs"
MISSING_SOLUTIONS = "missing solutions"
MALFORMED_TESTS = "malformed tests"
SYNTAX_ERROR = "syntax error"
MISSING_LIBRARY = "missing library"
RUNTIME_ERROR = "runtime error"
WRONG_OUTPUT = "wrong output"
TIMEOUT = "timeout"
INVALID_TESTS = "invalid tests"
EXTRACTION_FAILED = "extraction failed"
CRASH = "crash"
DUPLICATE_ID = "duplicate id"


@dataclass(frozen=True)
class Dropped:
    """One dropped problem: where (stage), why (reason, from a fixed vocabulary) and the specifics."""

    id: str
    stage: str
    reason: str
    detail: str = ""
    difficulty: str = "unknown"
    source_split: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "stage": self.stage, "reason": self.reason, "detail": self.detail,
                "difficulty": self.difficulty, "source_split": self.source_split}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Dropped":
        return cls(**{k: d[k] for k in ("id", "stage", "reason", "detail", "difficulty", "source_split")})


def _drop(item: RawApps | Problem, stage: str, reason: str, detail: str = "") -> Dropped:
    split = item.source_split if isinstance(item, RawApps) else str(item.metadata.get("source_split", ""))
    return Dropped(item.id, stage, reason, detail, item.difficulty or "unknown", split)


def _crash(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


# ----------------------------------------------------------------------------- stage 0
def stage_read(source: Any, splits: Iterable[str] | None = None, source_name: str | None = None,
               progress: bool = False) -> tuple[list[RawApps], list[Dropped]]:
    """Stage 0: read every problem; those whose files cannot be read are dropped with the file named."""
    kept, dropped, seen = [], [], set()
    for raw in read_apps(source, splits, source_name, progress):
        if raw.id in seen:  # e.g. a JSON lines file holding one problem_id twice: keep the first
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
    """One RawApps -> Problem with standardised tests (``apps.raw_to_problem``); the APPS starter
    code moves to metadata (stage 4 derives the APPS+ one) and the split is assigned in stage 5."""
    return raw_to_problem(raw).replace(starter_code="", split="")


def stage_standardise(raws: Sequence[RawApps]) -> tuple[list[Problem], list[Dropped]]:
    """Stage 2: standardise inputs and outputs; malformed tests drop the problem (field named)."""
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
_MEASURED = re.compile(r"\s*\(\d+(?:\.\d+)?s\)")  # "(0.98s)": measured times vary run to run


def classify_failure(result: Any) -> tuple[str, str]:
    """Drop reason and a one-line detail for a failed ``ExecutionResult``."""
    from stepcoder_lib.executor import Verdict

    v = result.verdict
    bad = next((t for t in result.tests if t.verdict not in (Verdict.PASSED, Verdict.NOT_RUN)), None)
    detail = (result.error or (f"test {bad.index}: {bad.detail}" if bad is not None else "")) or v.value
    detail = _MEASURED.sub("", detail.splitlines()[0])[:300] if detail else v.value
    if v == Verdict.COMPILE_ERROR or any(t.error_type in ("SyntaxError", "IndentationError", "TabError")
                                         for t in result.tests):
        return SYNTAX_ERROR, detail
    if any(t.error_type in ("ModuleNotFoundError", "ImportError") for t in result.tests):
        return MISSING_LIBRARY, detail
    if v == Verdict.TIMEOUT:
        return TIMEOUT, detail
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


def _unwrappable(tests: TestCases) -> bool:
    return tests.format == "call" and all(isinstance(o, list) and len(o) == 1 for o in tests.outputs)


def stage_execute(problems: Sequence[Problem], *, executor: Any = None, executor_config: Any = None,
                  max_candidates: int = 10, keep_all_solutions: bool = False,
                  progress: bool = True) -> tuple[list[Problem], list[Dropped]]:
    """Stage 3: pick each problem's canonical solution by running its candidates (see module doc).

    ``executor``: an open ``Executor`` to use (left open); otherwise one is made from
    ``executor_config`` (an ``ExecutorConfig``) and closed afterwards.
    """
    from stepcoder_lib.executor import Executor, ExecutorConfig, Job

    if max_candidates < 1:
        raise ValueError(f"max_candidates must be >= 1, got {max_candidates}")
    own = executor is None
    ex = Executor(executor_config or ExecutorConfig()) if own else executor
    try:
        return _execute(problems, ex, Job, max_candidates, keep_all_solutions, progress)
    finally:
        if own:
            ex.close()


def _execute(problems: Sequence[Problem], ex: Any, Job: Any, max_candidates: int, keep_all: bool,
             progress: bool) -> tuple[list[Problem], list[Dropped]]:
    failures: dict[str, list[tuple[int, str, str]]] = {p.id: [] for p in problems}
    passed: dict[str, tuple[int, Any]] = {}
    crashed: dict[str, str] = {}
    for rnd in range(max_candidates):
        todo = [p for p in problems if p.id not in passed and p.id not in crashed and rnd < len(p.solutions)]
        if not todo:
            break
        jobs = [Job(program=p.solutions[rnd], tests=p.tests, problem_id=f"{p.id}#{rnd}") for p in todo]
        label = f"stage 3: candidate {rnd + 1}" if progress else False
        for p, res in zip(todo, _run_jobs(ex, jobs, label)):
            if isinstance(res, Exception):
                crashed[p.id] = _crash(res)
            elif res.passed:
                passed[p.id] = (rnd, res)
            else:
                failures[p.id].append((rnd, *classify_failure(res)))

    # unwrap APPS's extra list where the canonical solution returns the element; verify by running.
    kept_tests: dict[str, TestCases] = {}
    to_verify = []
    for p in problems:
        if p.id in passed and _unwrappable(p.tests):
            rules = [t.rule for t in passed[p.id][1].tests]
            if rules and all(r == "unwrapped" for r in rules):
                kept_tests[p.id] = TestCases("call", p.tests.inputs, tuple(o[0] for o in p.tests.outputs),
                                             fn_name=p.tests.fn_name, setup_code=p.tests.setup_code)
                to_verify.append(p)
    if to_verify:
        jobs = [Job(program=p.solutions[passed[p.id][0]], tests=kept_tests[p.id], problem_id=p.id) for p in to_verify]
        for p, res in zip(to_verify, _run_jobs(ex, jobs, "stage 3: verify unwrapped outputs" if progress else False)):
            if isinstance(res, Exception) or not res.passed:
                del kept_tests[p.id]  # keep the stored form; the executor accepts it through its rule

    kept, dropped = [], []
    for p in problems:
        if p.id in crashed:
            dropped.append(_drop(p, "execute", CRASH, crashed[p.id]))
        elif p.id in passed:
            k, res = passed[p.id]
            rules: dict[str, int] = {}
            for t in res.tests:
                rules[t.rule or "?"] = rules.get(t.rule or "?", 0) + 1
            tests = kept_tests.get(p.id, p.tests)
            meta = {**p.metadata, "canonical_index": k, "n_candidate_solutions": len(p.solutions),
                    "comparison_rules": dict(sorted(rules.items()))}
            if p.format == "call":
                meta["outputs_unwrapped"] = p.id in kept_tests
            canonical = p.solutions[k]
            kept.append(p.replace(canonical_solution=canonical, tests=tests, metadata=meta,
                                  solutions=p.solutions if keep_all else (canonical,)))
        else:
            fails = failures[p.id]
            if not fails:
                dropped.append(_drop(p, "execute", MISSING_SOLUTIONS, "no candidate solution to run"))
                continue
            _, reason, detail = fails[0]
            tried = "; ".join(f"#{k}: {r}" for k, r, _ in fails)
            dropped.append(_drop(p, "execute", reason, f"{detail} [candidates tried: {tried}]"))
    return kept, dropped


# ----------------------------------------------------------------------------- stage 4
def extract_conditionals(source: str) -> list[dict[str, Any]]:
    """The CCCS input: conditional statements of ``source`` as dicts (start/end chars and lines)."""
    from stepcoder_lib.curriculum import find_conditional_statements

    with warnings.catch_warnings():  # old code's invalid escapes ("\d") warn when parsed; not our business
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        return [c.to_dict() for c in find_conditional_statements(source)]


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
    """Stage 4 for one problem: conditionals and starter code of its canonical solution."""
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
    """Stage 4: conditionals + starter code; a solution that does not parse here is dropped."""
    kept, dropped = [], []
    for p in problems:
        try:
            kept.append(extract(p))
        except (SyntaxError, ValueError, DataError) as exc:
            dropped.append(_drop(p, "extract", EXTRACTION_FAILED, _crash(exc)))
        except Exception as exc:
            dropped.append(_drop(p, "extract", CRASH, _crash(exc)))
    return kept, dropped


# ----------------------------------------------------------------------------- stage 5
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
    """Stage 5: train / validation / test per difficulty, deterministic in (ids, seed).

    Within each difficulty problems are ordered by sha256(seed:id) and cut by ``fractions``
    (train, validation, test; the paper's ~50/25/25). With ``respect_source_split`` (default), a
    problem from the source's ``test`` folder stays in ``test`` (the generated benchmark's held-out
    problems; also APPS's own test split) and the others are cut train / validation in the ratio
    of the first two fractions. ``respect_source_split=False`` pools everything as the paper did.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"fractions must be three non-negative numbers (train, validation, test), got {fractions}")
    by_diff: dict[str, list[Problem]] = {}
    for p in problems:
        by_diff.setdefault(p.difficulty, []).append(p)
    out = []
    for diff in sorted(by_diff):
        group = sorted(by_diff[diff], key=lambda p: _rank_key(seed, p.id))
        if respect_source_split:
            held = [p for p in group if p.metadata.get("source_split") == "test"]
            rest = [p for p in group if p.metadata.get("source_split") != "test"]
            out += [p.replace(split="test") for p in held]
            n_train, n_val = _counts(len(rest), fractions[:2]) if sum(fractions[:2]) > 0 else (len(rest), 0)
            parts = (("train", rest[:n_train]), ("validation", rest[n_train:]))
        else:
            n_train, n_val, _ = _counts(len(group), fractions)
            parts = (("train", group[:n_train]), ("validation", group[n_train:n_train + n_val]),
                     ("test", group[n_train + n_val:]))
        for name, items in parts:
            out += [p.replace(split=name) for p in items]
    return sorted(out, key=lambda p: p.id)


# ----------------------------------------------------------------------------- the pipeline
@dataclass
class CleaningResult:
    """Kept problems (with splits), every dropped problem, per-stage counts, and the report."""

    problems: list[Problem]
    dropped: list[Dropped]
    stage_counts: list[dict[str, Any]]
    settings: dict[str, Any]
    source_name: str
    n_input: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds; never written to disk

    @property
    def report(self) -> Any:
        from stepcoder_lib.data.report import CleaningReport

        return CleaningReport.from_result(self)

    def dropped_at(self, stage: str) -> list[Dropped]:
        return [d for d in self.dropped if d.stage == stage]

    def split(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.split == name]

    def write(self, out_dir: str | Path, plots: bool = True) -> dict[str, Path]:
        """Stage 6: APPS+ JSON lines, dropped problems, report (json, md) and plots, byte-stable."""
        from stepcoder_lib.data.report import write_report

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "apps_plus": write_jsonl(out / "apps_plus.jsonl", sorted(self.problems, key=lambda p: p.id)),
            "dropped": write_jsonl(out / "dropped.jsonl",
                                   [d.to_dict() for d in sorted(self.dropped, key=lambda d: (STAGES.index(d.stage), d.id))]),
        }
        paths.update(write_report(self.report, out, plots=plots))
        return paths


def clean_apps(source: Any, out_dir: str | Path | None = None, *, splits: Iterable[str] | None = None,
               source_name: str | None = None, max_candidates: int = 10, seed: int = 0,
               fractions: Sequence[float] = (0.5, 0.25, 0.25), respect_source_split: bool = True,
               workers: int | None = None, time_limit_s: float = 4.0, executor: Any = None,
               keep_all_solutions: bool = False, plots: bool = True, progress: bool = True) -> CleaningResult:
    """Run stages 0-5 on an APPS source (folder, JSON lines, hub id, dataset) and, given
    ``out_dir``, write stage 6's files there. Knobs are recorded in the report."""
    if executor is not None and hasattr(executor, "config"):
        time_limit_s = executor.config.time_limit_s  # record the limit actually used
    settings = {"max_candidates": max_candidates, "seed": seed, "fractions": list(fractions),
                "respect_source_split": respect_source_split, "time_limit_s": time_limit_s,
                "keep_all_solutions": keep_all_solutions}
    timings: dict[str, float] = {}
    counts: list[dict[str, Any]] = []
    dropped: list[Dropped] = []

    def record(stage: str, n_in: int, kept: Sequence[Any], drops: list[Dropped], t0: float) -> None:
        timings[stage] = round(time.perf_counter() - t0, 3)
        counts.append({"stage": stage, "in": n_in, "kept": len(kept), "dropped": len(drops)})
        dropped.extend(drops)

    t0 = time.perf_counter()
    raws, drops = stage_read(source, splits, source_name, progress)
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
        from stepcoder_lib.executor import ExecutorConfig

        cfg = None if executor is not None else ExecutorConfig(workers=workers, time_limit_s=time_limit_s)
        executed, drops = stage_execute(problems, executor=executor, executor_config=cfg,
                                        max_candidates=max_candidates, keep_all_solutions=keep_all_solutions,
                                        progress=progress)
    else:
        executed, drops = [], []
    record("execute", len(problems), executed, drops, t0)

    t0 = time.perf_counter()
    extracted, drops = stage_extract(executed)
    record("extract", len(executed), extracted, drops, t0)

    t0 = time.perf_counter()
    final = assign_splits(extracted, seed, fractions, respect_source_split)
    record("split", len(extracted), final, [], t0)

    result = CleaningResult(final, sorted(dropped, key=lambda d: (STAGES.index(d.stage), d.id)), counts,
                            settings, name, n_input, timings)
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
    wrong_reason = sorted(pid for pid in caught if dropped[pid].reason not in DEFECT_REASONS.get(defects[pid], {dropped[pid].reason}))
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
