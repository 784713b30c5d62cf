"""APPS and APPS+ loaders.

Readers return ``RawApps`` records, one per problem, exactly as stored (parsed JSON, decoded
text). They never raise for one bad problem: a corrupt file, an unreadable encoding or a row in a
format that cannot be used is recorded in ``RawApps.error`` so the cleaning can drop that problem
with its reason and go on. A source that cannot be reached raises ``DataUnavailable``; a source
with nothing recognisable in it, or one whose split cannot be told, raises ``DataError`` naming
what was expected.

Sources, picked by ``read_apps``:

* the original folder layout ``<root>/{train,test}/<id>/{question.txt, solutions.json,
  input_output.json, metadata.json, starter_code.py}`` (``root`` may also be a ``train`` or
  ``test`` folder itself);
* JSON lines (a UTF-8 byte order mark is accepted) of

  - ``codeparrot/apps`` rows (``problem_id, question, solutions, input_output, difficulty, url,
    starter_code``; ``solutions`` / ``input_output`` are JSON strings);
  - MapCoder's ``selected150.jsonl`` rows (``id, name, description, difficulty, sample_io,
    test_list, starter_code``, tests as ``{"input": text, "output": [value]}``; no solutions).
    Its stdin problems are read; its call-based problems are refused row by row (reason
    ``unsupported format``), because that file keeps each argument as ``str()`` text, which
    loses its type;

* a folder laid out as the ``codeparrot/apps`` repository (``train.jsonl`` and/or ``test.jsonl``);
* a dataset saved with ``datasets.save_to_disk`` (e.g. CodeChain's ``data/mini_val``, whose splits
  are named by difficulty), or a ``datasets`` object, with ``codeparrot/apps`` rows;
* the hub: ``hf://datasets/codeparrot/apps`` or ``codeparrot/apps`` (its ``train.jsonl`` /
  ``test.jsonl`` read with the ``datasets`` json builder; the repo's loading script is not run).

Files of this project's APPS+, of MBPP or of HumanEval are refused with one sentence naming the
loader to use.

**The split comes from the source, never from a file name.** Every problem's APPS split (``train``
or ``test``) is taken from its folder (``train/``, ``test/``), the hub's split (a ``DatasetDict``
key, ``Dataset.split``, the codeparrot repository's files), a ``split`` field of the row, or the
``split=`` argument; ``RawApps.split_source`` says which. Where these disagree, or where none says
(a JSON lines file of rows without a ``split`` field, CodeChain's difficulty-named splits), reading
stops with a ``DataError`` asking for ``split=``. Ids carry the split (``apps/test/0000``), so the
hub's per-split numbering from 0 cannot collide.

``standardise_tests`` and ``standardise_solution`` are cleaning stage 2, shared by ``load_apps``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tokenize
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepcoder_lib.data.conditionals import extract_conditionals
from stepcoder_lib.data.loaders import load_hub_dataset, missing_local
from stepcoder_lib.data.problem import DataError, DataUnavailable, Problem, read_problems_jsonl
from stepcoder_lib.executor.testcases import TestCases
from stepcoder_lib.settings.progress import progress as bar

APPS_HUB_ID = "codeparrot/apps"
APPS_FILES = ("question.txt", "solutions.json", "input_output.json", "metadata.json", "starter_code.py")
#: APPS's own splits; every APPS problem belongs to one.
APPS_SPLITS = ("train", "test")
_HINT = (
    "pass apps_path=/path/to/APPS with train/ and test/ problem folders "
    "(or a train.jsonl/test.jsonl downloaded from the codeparrot/apps dataset)"
)
_EXPECTED = (
    "expected APPS problem folders under train/ or test/ (each holding question.txt, solutions.json, "
    "input_output.json, metadata.json), a JSON lines file of codeparrot/apps or MapCoder rows, "
    "a folder holding the codeparrot/apps train.jsonl/test.jsonl, or a datasets.save_to_disk folder"
)

# Load-failure reasons (the cleaning report counts these under stage "read").
CORRUPT_FILE = "corrupt file"
BAD_ENCODING = "unreadable encoding"
UNREADABLE_FILE = "unreadable file"
UNSUPPORTED_FORMAT = "unsupported format"

# How a problem's split was decided (``RawApps.split_source``, counted in the cleaning report).
SPLIT_FROM_FOLDER = "folder"
SPLIT_FROM_HUB = "hub split"
SPLIT_FROM_FIELD = "split field"
SPLIT_FROM_ARGUMENT = "split argument"


@dataclass(frozen=True)
class RawApps:
    """One APPS problem as stored. ``None`` = the file/field is absent; ``error`` = (reason, detail).

    ``source_split`` is APPS's own split (``train``/``test``) and ``split_source`` how it was told.
    """

    id: str
    source: str
    source_split: str
    difficulty: str
    question: str | None
    solutions: Any
    input_output: Any
    starter_code: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    error: tuple[str, str] | None = None
    split_source: str = ""


# ----------------------------------------------------------------------------- the split
def decide_split(where: str, statements: Iterable[tuple[str, str | None]]) -> tuple[str, str]:
    """(split, how) from what the source states; ``statements`` are (how, split or None) pairs.

    Raises DataError naming ``where`` when a statement is not an APPS split, when two disagree, or
    when none says anything (the file's name is never consulted).
    """
    said = [(how, s) for how, s in statements if s not in (None, "")]
    for how, s in said:
        if s not in APPS_SPLITS:
            raise DataError(f"{where}: {how} says split {s!r}; APPS splits are {', '.join(APPS_SPLITS)}")
    if len({s for _, s in said}) > 1:
        raise DataError(f"{where}: the split is stated twice and differently ("
                        + ", ".join(f"{how}: {s!r}" for how, s in said) + ")")
    if not said:
        raise DataError(f"{where}: nothing says which APPS split these problems belong to (a file's name does "
                        "not count); pass split='train' or split='test', or give each row a 'split' field")
    return said[0][1], said[0][0]  # type: ignore[return-value]


def _check_split_argument(split: str | None) -> None:
    if split is not None and split not in APPS_SPLITS:
        raise ValueError(f"split must be one of {APPS_SPLITS} (APPS's own split of the problems), got {split!r}")


# ----------------------------------------------------------------------------- normalisation
def normalise_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` become ``\\n`` (APPS mixes them; so does MBPP's code)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _stdin_text(value: Any, pid: str, name: str, i: int) -> tuple[str, bool]:
    """A stdin input/output as text; a list of lines is joined (returns whether it was)."""
    if isinstance(value, str):
        return normalise_newlines(value), False
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        text = "\n".join(normalise_newlines(x).rstrip("\n") for x in value)
        return text + "\n", True
    raise DataError(
        f"problem {pid}: field '{name}[{i}]': stdin tests need text or a list of lines, got {type(value).__name__}"
    )


def standardise_tests(input_output: Any, pid: str) -> tuple[TestCases, dict[str, Any]]:
    """APPS ``input_output`` -> ``TestCases`` (stage 2). Raises DataError naming id and field.

    stdin: texts with ``\\n`` newlines, lists of lines joined. call (``fn_name`` present): each
    input must be the JSON argument list; outputs are kept as stored (whether to unwrap APPS's extra
    list is decided by running the canonical solution, stage 3). Returns the tests and notes on
    what was changed.
    """
    if not isinstance(input_output, Mapping):
        got = type(input_output).__name__
        raise DataError(f"problem {pid}: field 'input_output': expected a JSON object, got {got}")
    inputs, outputs = input_output.get("inputs"), input_output.get("outputs")
    for name, seq in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(seq, list):
            raise DataError(f"problem {pid}: field '{name}': expected a list, got {type(seq).__name__}")
    assert isinstance(inputs, list) and isinstance(outputs, list)  # checked just above (for the type checker)
    if len(inputs) != len(outputs):
        raise DataError(f"problem {pid}: field 'outputs': {len(outputs)} outputs for {len(inputs)} inputs")
    notes: dict[str, Any] = {}
    fn_name = input_output.get("fn_name")
    if fn_name not in (None, ""):
        if not isinstance(fn_name, str) or not fn_name.isidentifier():
            raise DataError(f"problem {pid}: field 'fn_name': {fn_name!r} is not a Python identifier")
        for i, args in enumerate(inputs):
            if not isinstance(args, list):
                raise DataError(f"problem {pid}: field 'inputs[{i}]': call-based inputs must be argument lists, "
                                f"got {type(args).__name__}")
        tests = TestCases("call", tuple(inputs), tuple(outputs), fn_name=fn_name)
    else:
        ins: list[str] = []
        outs: list[str] = []
        joined = 0
        for name, seq, dest in (("inputs", inputs, ins), ("outputs", outputs, outs)):
            for i, value in enumerate(seq):
                text, was_list = _stdin_text(value, pid, name, i)
                dest.append(text)
                joined += was_list
        if joined:
            notes["joined_line_lists"] = joined
        changed = sum(a != b for a, b in zip(ins + outs, inputs + outputs) if isinstance(b, str))
        if changed:
            notes["newlines_normalised"] = changed
        tests = TestCases("stdin", tuple(ins), tuple(outs))
    try:
        tests.validate()
    except ValueError as exc:
        raise DataError(f"problem {pid}: {exc}") from None
    return tests, notes


def string_solutions(solutions: Any) -> list[str]:
    """The usable candidate solutions (strings, newline-normalised), in stored order."""
    if not isinstance(solutions, list):
        return []
    return [normalise_newlines(s) for s in solutions if isinstance(s, str) and s.strip()]


# ----------------------------------------------------------------------------- solutions for APPS's harness
#: Compile errors that only mean "written for a harness that runs the program inside a function".
HARNESS_ONLY_ERRORS = ("'return' outside function", "nonlocal declaration not allowed at module level",
                       "no binding for nonlocal")
_NOT_PLAIN_FUNCTION = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR


def compile_error(source: str) -> str | None:
    """The compile error of ``source`` as one line, or None when it compiles (nothing is run)."""
    try:
        with warnings.catch_warnings():  # old code's invalid escapes ("\d") warn when compiled
            warnings.simplefilter("ignore")
            compile(source, "<solution>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{type(exc).__name__}: {exc.msg}"
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, absurd nesting
        return f"{type(exc).__name__}: {exc}"
    return None


def wrap_in_main(source: str) -> str:
    """``source`` as the body of ``def main():`` followed by ``main()``, as APPS's harness runs it.

    Every line is indented by one level except the continuation lines of multi-line strings (their
    text must not change) and ``from __future__`` imports (which stay first). The indent is a tab
    when the program indents with tabs anywhere (a common prefix of one tab keeps Python's
    tab/space consistency check true), else four spaces.
    """
    lines = source.split("\n")
    inside_string: set[int] = set()  # 0-based indices of lines that continue a multi-line string
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                inside_string.update(range(tok.start[0], tok.end[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    indent = "\t" if any(ln[: len(ln) - len(ln.lstrip())].count("\t") for ln in lines) else "    "
    future = [ln for ln in lines if ln.startswith("from __future__")]
    body = [ln if (i in inside_string or not ln.strip()) else indent + ln
            for i, ln in enumerate(lines) if not ln.startswith("from __future__")]
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(future + ["def main():"] + body + ["", "", "main()", ""])


def standardise_solution(source: str, fmt: str) -> tuple[str, bool]:
    """A standalone program for a stdin solution written for APPS's harness, and whether it was wrapped.

    APPS's harness runs stdin programs inside a function, so solutions there may ``return`` at top
    level or declare ``nonlocal`` at module level. Only when the plain program does not compile for
    that reason, and the wrapped one compiles to a plain function, is it wrapped (``wrap_in_main``);
    anything else is returned unchanged (a real syntax error stays one).
    """
    if fmt != "stdin":
        return source, False
    err = compile_error(source)
    if err is None or not any(e in err for e in HARNESS_ONLY_ERRORS):
        return source, False
    wrapped = wrap_in_main(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = compile(wrapped, "<solution>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return source, False
    main = next((c for c in code.co_consts if getattr(c, "co_name", None) == "main"), None)
    if main is None or main.co_flags & _NOT_PLAIN_FUNCTION:  # a top-level yield would make main() do nothing
        return source, False
    return wrapped, True


# ----------------------------------------------------------------------------- folder layout
def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")  # a byte order mark is not content


def _problem_from_folder(folder: Path, split: str, how: str, source: str) -> RawApps:
    pid = f"{source}/{split}/{folder.name}"
    rel = f"{folder.parent.name}/{folder.name}"  # relative: outputs must not depend on where data lives
    values: dict[str, Any] = {}

    def failed(reason: str, detail: str) -> RawApps:
        return RawApps(pid, source, split, "unknown", None, None, None, error=(reason, detail),
                       metadata={"path": rel}, split_source=how)

    for name in APPS_FILES:
        path = folder / name
        if not path.exists():
            values[name] = None
            continue
        try:
            text = _read_text(path)
            values[name] = json.loads(text) if name.endswith(".json") else text
        except UnicodeDecodeError as exc:
            return failed(BAD_ENCODING, f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})")
        except json.JSONDecodeError as exc:
            return failed(CORRUPT_FILE, f"{name}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
        except OSError as exc:
            return failed(UNREADABLE_FILE, f"{name}: {exc.strerror or type(exc).__name__}")
    meta = values["metadata.json"]
    if meta is not None and not isinstance(meta, Mapping):
        return failed(CORRUPT_FILE, "metadata.json: expected a JSON object")
    meta = dict(meta or {})
    difficulty = str(meta.pop("difficulty", "") or "unknown").lower()
    return RawApps(
        id=pid, source=source, source_split=split, difficulty=difficulty,
        question=values["question.txt"], solutions=values["solutions.json"],
        input_output=values["input_output.json"], starter_code=values["starter_code.py"] or "",
        metadata={**meta, "original_id": folder.name, "path": rel}, split_source=how,
    )


def _problem_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _is_problem_dir(folder: Path) -> bool:
    return any((folder / name).is_file() for name in APPS_FILES)


def read_apps_folder(root: str | Path, splits: Iterable[str] | None = None, source: str | None = None,
                     progress: bool = False, split: str | None = None) -> list[RawApps]:
    """All problems under an APPS-layout folder (``root/{train,test}/<id>/``, or a ``train``/``test``
    folder itself). A folder of problem folders under another name needs ``split=``; a folder
    holding no problem folder at all is a DataError saying what was expected."""
    root = Path(root)
    if not root.is_dir():
        raise missing_local("APPS", root, _HINT)
    _check_split_argument(split)
    source = source or _default_source(root)
    split_dirs = [(s, root / s) for s in APPS_SPLITS if (root / s).is_dir()]
    if not split_dirs and root.name in APPS_SPLITS:
        split_dirs = [(root.name, root)]
    if split_dirs:
        decided = [(decide_split(str(d), [(SPLIT_FROM_FOLDER, s), (SPLIT_FROM_ARGUMENT, split)]), d)
                   for s, d in split_dirs]
    elif any(_is_problem_dir(d) for d in _problem_dirs(root)):
        decided = [(decide_split(f"{root} (problem folders outside a train/ or test/ folder)",
                                 [(SPLIT_FROM_ARGUMENT, split)]), root)]
    else:
        decided = []
    wanted = set(splits) if splits else None
    jobs = [(s, how, d) for (s, how), sd in decided if wanted is None or s in wanted for d in _problem_dirs(sd)]
    if not any(_is_problem_dir(d) for _, _, d in jobs) and not (wanted and decided):
        found = ", ".join(p.name for p in sorted(root.iterdir())[:8]) or "nothing"
        raise DataError(f"no APPS problems in {root} (it holds: {found}); {_EXPECTED}")

    return [_problem_from_folder(d, s, how, source)
            for s, how, d in bar(jobs, desc="reading APPS folders", unit="problem", enabled=progress)]


def _default_source(root: Path) -> str:
    """``bench`` for a folder written by the synthetic generator (it leaves ``truth.json``), else ``apps``."""
    return "bench" if (root / "truth.json").exists() else "apps"


# ----------------------------------------------------------------------------- rows (jsonl / hub)
def _maybe_json(value: Any) -> Any:
    """codeparrot rows keep solutions / input_output as JSON strings ("" = absent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return json.loads(value)
    return value


def _row_folder_name(pid_raw: Any) -> str:
    return f"{int(pid_raw):04d}" if isinstance(pid_raw, int) or str(pid_raw).isdigit() else str(pid_raw)


def raw_from_row(row: Mapping[str, Any], split: str, source: str = "apps", where: str = "",
                 split_source: str = "") -> RawApps:
    """One codeparrot/apps-style row as a RawApps (bad fields are recorded, not raised)."""
    folder = _row_folder_name(row.get("problem_id", row.get("id")))
    pid = f"{source}/{split}/{folder}"
    meta = {"original_id": folder, **({"url": row["url"]} if row.get("url") else {}),
            **({"where": where} if where else {})}
    difficulty = str(row.get("difficulty") or "unknown").lower()
    parsed: dict[str, Any] = {}
    for name in ("solutions", "input_output"):
        try:
            parsed[name] = _maybe_json(row.get(name))
        except json.JSONDecodeError as exc:
            return RawApps(pid, source, split, difficulty, None, None, None, metadata=meta, split_source=split_source,
                           error=(CORRUPT_FILE, f"{where or 'row'}: field '{name}': invalid JSON ({exc.msg})"))
    question = row.get("question")
    return RawApps(pid, source, split, difficulty, question if isinstance(question, str) else None,
                   parsed["solutions"], parsed["input_output"], str(row.get("starter_code") or ""), meta,
                   split_source=split_source)


def raw_from_mapcoder_row(row: Mapping[str, Any], split: str, source: str = "apps", where: str = "",
                          split_source: str = "") -> RawApps:
    """A row of MapCoder's ``selected150.jsonl`` (APPS problems, no solutions) as a RawApps.

    MapCoder's converter writes each test as ``{"input": text, "output": [expected]}``; for stdin
    problems that is the stdin text and the expected output (a list of lines is joined). For
    call-based problems (a ``def`` in the starter code) it joins ``str(argument)`` lines, so a
    string ``"12"`` and a number ``12`` read the same: those rows are refused (``unsupported format``).
    """
    folder = _row_folder_name(row.get("id", row.get("name")))
    pid = f"{source}/{split}/{folder}"
    meta = {"original_id": folder, "format": "MapCoder selected150", **({"where": where} if where else {})}
    difficulty = str(row.get("difficulty") or "unknown").lower()
    starter = str(row.get("starter_code") or "")
    question = row.get("description")

    def raw(input_output: Any, error: tuple[str, str] | None = None) -> RawApps:
        return RawApps(pid, source, split, difficulty, question if isinstance(question, str) else None, None,
                       input_output, starter, meta, error, split_source)

    if re.search(r"^\s*def\s", starter, re.M):
        return raw(None, (UNSUPPORTED_FORMAT, (
            f"{where or 'row'}: MapCoder rows of call-based problems keep each argument as str() text, which loses "
            "its type (a string '12' and a number 12 read the same); use the codeparrot/apps row of this problem")))
    inputs, outputs = [], []
    for i, test in enumerate(row.get("test_list") or []):
        out = test.get("output") if isinstance(test, Mapping) else None
        if isinstance(out, list) and all(isinstance(x, str) for x in out):
            out = out[0] if len(out) == 1 else "\n".join(x.rstrip("\n") for x in out) + "\n"
        if not isinstance(test, Mapping) or not isinstance(test.get("input"), str) or not isinstance(out, str):
            return raw(None, (CORRUPT_FILE, (
                f"{where or 'row'}: field 'test_list[{i}]': expected {{\"input\": text, \"output\": [text]}}")))
        inputs.append(test["input"])
        outputs.append(out)
    return raw({"inputs": inputs, "outputs": outputs} if inputs else None)


# One recognised form of JSON lines: (name, fields that identify it, reader or None = refused, why refused).
_ROW_FORMATS: tuple[tuple[str, frozenset[str], Any, str], ...] = (
    ("this project's APPS+", frozenset({"schema_version", "tests"}), None,
     "it is an APPS+ file already cleaned; read it with stepcoder_lib.data.load_apps_plus"),
    ("the paper's APPS+", frozenset({"canonical_solution", "description"}), None,
     "it is an APPS+ file (canonical solutions, no candidates to judge); "
     "read it with stepcoder_lib.data.load_apps_plus"),
    ("HumanEval", frozenset({"prompt", "entry_point"}), None,
     "it is HumanEval; read it with stepcoder_lib.data.load_humaneval"),
    ("MBPP", frozenset({"task_id", "test_list", "code"}), None,
     "it is MBPP; read it with stepcoder_lib.data.load_mbpp"),
    ("MapCoder selected150", frozenset({"description", "test_list"}), raw_from_mapcoder_row, ""),
    ("codeparrot/apps", frozenset({"question", "input_output"}), raw_from_row, ""),
    ("codeparrot/apps", frozenset({"question", "solutions"}), raw_from_row, ""),
)


def _row_format(row: Mapping[str, Any], where: str) -> tuple[str, Any]:
    """(format name, row reader) of one row; DataError for a known-but-refused or unknown form."""
    for name, keys, reader, why in _ROW_FORMATS:
        if keys <= set(row):
            if reader is None:
                raise DataError(f"{where}: rows in {name} form are not APPS problems to clean: {why}")
            return name, reader
    fields = ", ".join(sorted(map(str, row))[:12])
    raise DataError(f"{where}: unrecognised rows (fields: {fields}); expected codeparrot/apps rows (problem_id, "
                    "question, solutions, input_output, difficulty, url, starter_code) or MapCoder rows "
                    "(id, description, test_list, starter_code)")


def read_apps_jsonl(path: str | Path, split: str | None = None, source: str = "apps",
                    hub_split: str | None = None) -> list[RawApps]:
    """APPS rows from a JSON lines file (see the module docstring for forms and splits).

    ``split`` is the caller's ``split=`` argument; ``hub_split`` is set only for a file of the
    codeparrot/apps repository layout. A corrupt line becomes a RawApps with an error; rows in an
    unknown form, rows without a split, and one id used by two different problems raise DataError.
    """
    path = Path(path)
    if not path.is_file():
        raise missing_local("APPS", path, _HINT)
    _check_split_argument(split)
    out: list[RawApps] = []
    fmt: tuple[str, Any] | None = None
    first_of: dict[str, tuple[int, str]] = {}
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark
            if not raw.strip():
                continue
            where = f"{path.name}:{lineno}"
            fallback = split or hub_split or "unknown"
            told = SPLIT_FROM_ARGUMENT if split else SPLIT_FROM_HUB if hub_split else ""
            line_id = f"{source}/{fallback}/line{lineno:05d}"
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, Mapping):
                    raise ValueError("not a JSON object")
            except UnicodeDecodeError as exc:
                out.append(RawApps(line_id, source, fallback, "unknown", None, None, None,
                                   error=(BAD_ENCODING, f"{where}: not UTF-8 ({exc.reason})"), split_source=told))
                continue
            except ValueError as exc:
                out.append(RawApps(line_id, source, fallback, "unknown", None, None, None,
                                   error=(CORRUPT_FILE, f"{where}: invalid JSON ({getattr(exc, 'msg', exc)})"),
                                   split_source=told))
                continue
            if fmt is None:
                fmt = _row_format(row, where)
            s, how = decide_split(where, [(SPLIT_FROM_FIELD, row.get("split")), (SPLIT_FROM_HUB, hub_split),
                                          (SPLIT_FROM_ARGUMENT, split)])
            raw_apps = fmt[1](row, s, source, where, how)
            question = raw_apps.question or ""
            if raw_apps.id in first_of and first_of[raw_apps.id][1] != question:
                raise DataError(
                    f"{where}: id {raw_apps.id} was already used by line {first_of[raw_apps.id][0]} for another "
                    "problem; "
                    "APPS numbers train and test problems from 0 each, so rows from both splits need a 'split' field")
            first_of.setdefault(raw_apps.id, (lineno, question))
            out.append(raw_apps)
    if fmt is None:
        raise DataError(f"no APPS problems in {path} (no readable row); {_EXPECTED}")
    return out


def read_apps_dataset(ds: Any, source: str = "apps", split: str | None = None) -> list[RawApps]:
    """Rows of a ``datasets.Dataset`` / ``DatasetDict``: the split from the dict key or ``Dataset.split``
    when it is an APPS split, a row's ``split`` field, or ``split=`` (CodeChain names its splits by
    difficulty, which says nothing about APPS's split)."""
    _check_split_argument(split)
    parts = list(ds.items()) if hasattr(ds, "items") else [(str(getattr(ds, "split", None) or ""), ds)]
    out = []
    for name, part in parts:
        hub = name if name in APPS_SPLITS else None
        for i, row in enumerate(part):
            where = f"{name or 'rows'}[{i}]"
            if i == 0:
                _row_format(row, f"dataset split {name!r}" if name else "dataset")
            s, how = decide_split(
                f"{where} (the dataset's split is named {name!r}, not train or test)" if name and not hub else where,
                [(SPLIT_FROM_FIELD, row.get("split")), (SPLIT_FROM_HUB, hub), (SPLIT_FROM_ARGUMENT, split)])
            out.append(raw_from_row(row, s, source, where=where, split_source=how))
    if not out:
        raise DataError(f"no APPS problems in the dataset (no rows); {_EXPECTED}")
    return out


def read_apps_hub(hub_id: str = APPS_HUB_ID, splits: Iterable[str] = APPS_SPLITS,
                  also_tried: str = "") -> list[RawApps]:
    """APPS from the hub: the repo's ``<split>.jsonl`` files through the ``datasets`` json builder."""
    repo = hub_id.removeprefix("hf://datasets/").strip("/")
    files = {s: f"hf://datasets/{repo}/{s}.jsonl" for s in splits}
    target = f"{repo} (files {', '.join(s + '.jsonl' for s in files)})"
    ds = load_hub_dataset("APPS", _HINT, "json", data_files=files, hub_target=target, also_tried=also_tried)
    return read_apps_dataset(ds)


def read_apps(source: Any, splits: Iterable[str] | None = None, source_name: str | None = None,
              progress: bool = False, *, split: str | None = None) -> list[RawApps]:
    """Raw APPS records from any supported source (see the module docstring).

    ``splits`` keeps only problems of those APPS splits; ``split`` tells the APPS split of a source
    that does not say it (and must agree with one that does).
    """
    _check_split_argument(split)
    wanted = set(splits) if splits else None

    def keep(rows: list[RawApps]) -> list[RawApps]:
        return [r for r in rows if wanted is None or r.source_split in wanted]

    if hasattr(source, "column_names") or type(source).__name__ in ("Dataset", "DatasetDict"):
        return keep(read_apps_dataset(source, source_name or "apps", split))
    text = str(source)
    path = Path(text).expanduser()
    if not path.exists():
        if text.startswith("hf://"):
            return keep(read_apps_hub(text, tuple(splits) if splits else APPS_SPLITS))
        if text.count("/") == 1 and not text.startswith((".", "/", "~")):  # "owner/name": a hub id
            return keep(read_apps_hub(text, tuple(splits) if splits else APPS_SPLITS,
                                      also_tried=f"the local path {path} (it does not exist) and"))
        raise missing_local("APPS", path, _HINT)
    name = source_name or _default_source(path if path.is_dir() else path.parent)
    if path.is_file():
        if path.suffix not in (".jsonl", ".json"):
            raise DataError(f"{path}: not a JSON lines file; {_EXPECTED}")
        return keep(read_apps_jsonl(path, split, name))
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        import datasets  # lazy: importing this module needs no datasets

        return keep(read_apps_dataset(datasets.load_from_disk(str(path)), name, split))
    hub_files = [path / f"{s}.jsonl" for s in APPS_SPLITS if (path / f"{s}.jsonl").is_file()]
    if hub_files and not any((path / s).is_dir() for s in APPS_SPLITS):  # the codeparrot/apps repository layout
        return keep([r for f in hub_files for r in read_apps_jsonl(f, split, name, hub_split=f.stem)])
    return read_apps_folder(path, splits, name, progress, split)


# ----------------------------------------------------------------------------- Problems
def raw_to_problem(raw: RawApps) -> Problem:
    """Standardised Problem from a readable RawApps (no execution). DataError names id and field.

    Tests are standardised (``standardise_tests``) and stdin solutions written for APPS's harness
    become standalone programs (``standardise_solution``; their indices are noted in
    ``metadata["standardised"]["wrapped_solutions"]``).
    """
    if raw.error:
        raise DataError(f"problem {raw.id}: {raw.error[0]}: {raw.error[1]}")
    notes: dict[str, Any]
    if raw.input_output is None:
        tests, notes = TestCases("stdin", ()), {"no_tests": True}
    else:
        tests, notes = standardise_tests(raw.input_output, raw.id)
    solutions, wrapped = [], []
    for i, sol in enumerate(string_solutions(raw.solutions)):
        sol, was_wrapped = standardise_solution(sol, tests.format)
        solutions.append(sol)
        if was_wrapped:
            wrapped.append(i)
    if wrapped:
        notes["wrapped_solutions"] = wrapped
    meta = {**raw.metadata, "source_split": raw.source_split, "split_source": raw.split_source}
    if notes:
        meta["standardised"] = notes
    if raw.starter_code:
        meta["apps_starter_code"] = normalise_newlines(raw.starter_code)
    return Problem(
        id=raw.id, source=raw.source, difficulty=raw.difficulty,
        statement=normalise_newlines(raw.question or ""), tests=tests,
        starter_code=normalise_newlines(raw.starter_code), solutions=tuple(solutions),
        canonical_solution=None, split=raw.source_split, metadata=meta,
    )


def load_apps(source: Any, splits: Iterable[str] | None = None, *, errors: str = "raise",
              source_name: str | None = None, progress: bool = False, split: str | None = None) -> list[Problem]:
    """APPS problems as standardised ``Problem`` records, uncleaned (solutions not judged).

    Problems without solutions or tests are kept (APPS test problems often have none). Problems
    whose files are unreadable or whose tests are malformed are skipped; after reading them all,
    ``errors="raise"`` raises one DataError listing them, ``"warn"`` warns and returns the rest.
    ``split`` tells the APPS split of a source that does not say it (see ``read_apps``).
    """
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn', got {errors!r}")
    problems, bad = [], []
    for raw in read_apps(source, splits, source_name, progress, split=split):
        try:
            problems.append(raw_to_problem(raw))
        except DataError as exc:
            bad.append(str(exc))
    if bad:
        msg = (f"{len(bad)} APPS problem(s) could not be loaded: " + "; ".join(bad[:5])
               + ("; ..." if len(bad) > 5 else ""))
        if errors == "raise":
            raise DataError(msg)
        warnings.warn(msg, stacklevel=2)
    return problems


# ----------------------------------------------------------------------------- APPS+
_ALIASES = {
    "statement": ("statement", "description", "question", "problem", "prompt"),
    "canonical": ("canonical_solution", "solution", "solutions"),
    "conditionals": ("conditionals", "conditional_statements", "cond_statements", "conditions"),
    "id": ("id", "problem_id", "task_id"),
}


def _pick(row: Mapping[str, Any], key: str) -> Any:
    return next((row[k] for k in _ALIASES[key] if k in row and row[k] not in (None, "")), None)


def apps_plus_row_to_problem(row: Mapping[str, Any], index: int, split: str = "") -> Problem:
    """A row of the paper's APPS+ JSON (field names as in its README) as a Problem.

    The authors' file is not obtainable here, so field names are read tolerantly (see
    ``_ALIASES``); tests come from top-level ``inputs``/``outputs``/``fn_name`` or an
    ``input_output`` object/string. Conditional statements are kept when they are in this
    project's form (``kind, start_char, end_char, start_line, end_line``) and otherwise recomputed
    from the canonical solution (noted in metadata), since the paper does not define its offsets.
    """
    ident = _pick(row, "id")
    pid = f"apps_plus/{ident if ident is not None else index}"
    statement = _pick(row, "statement")
    if not isinstance(statement, str):
        raise DataError(f"problem {pid}: field 'description' (or 'question') is missing")
    canonical = _pick(row, "canonical")
    if isinstance(canonical, str) and canonical.lstrip().startswith("["):
        with contextlib.suppress(json.JSONDecodeError):
            canonical = json.loads(canonical)
    if isinstance(canonical, list):
        canonical = next((c for c in canonical if isinstance(c, str)), None)
    if not isinstance(canonical, str):
        raise DataError(f"problem {pid}: field 'canonical_solution' is missing")
    io_ = row.get("input_output")
    if isinstance(io_, str):
        try:
            io_ = json.loads(io_)
        except json.JSONDecodeError as exc:
            raise DataError(f"problem {pid}: field 'input_output': invalid JSON ({exc.msg})") from None
    io_ = dict(io_ or {})
    for k in ("inputs", "outputs", "fn_name"):
        if k in row:
            io_[k] = row[k]
    tests, notes = standardise_tests(io_, pid)
    canonical = normalise_newlines(canonical)
    meta: dict[str, Any] = {k: row[k] for k in ("url", "name") if k in row}
    conds_raw = _pick(row, "conditionals")
    keys = {"kind", "start_char", "end_char", "start_line", "end_line"}
    if isinstance(conds_raw, list) and all(isinstance(c, Mapping) and keys <= set(c) for c in conds_raw):
        conds = tuple({k: c[k] for k in sorted(keys)} for c in conds_raw)
    else:
        conds = tuple(extract_conditionals(canonical))
        meta["conditionals_recomputed"] = True
    return Problem(
        id=pid, source="apps_plus", difficulty=str(row.get("difficulty") or row.get("level") or "unknown").lower(),
        statement=normalise_newlines(statement), tests=tests,
        starter_code=normalise_newlines(str(row.get("starter_code") or "")),
        solutions=(canonical,), canonical_solution=canonical, conditionals=conds,
        split=str(row.get("split") or split), metadata=meta,
    )


def load_apps_plus(path: str | Path, split: str | None = None) -> list[Problem]:
    """APPS+ problems: this project's JSON lines (``schema_version`` in every line, notebook 01's
    ``apps_plus.jsonl``; a folder holding it works too) or the paper's JSON (a list or JSON
    lines of rows). ``split`` keeps only that split."""
    path = Path(path)
    if path.is_dir():
        path = path / "apps_plus.jsonl"
    if not path.is_file():
        raise DataUnavailable(
            f"Could not load APPS+: tried the local path {path} (it does not exist); "
            "run notebook 01 (make data) to build it, or pass the path of an APPS+ JSON file."
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
        first = text.lstrip()[:1]
        if first == "[":
            rows = json.loads(text)
            problems = [apps_plus_row_to_problem(r, i) for i, r in enumerate(rows)]
        else:
            first_row = json.loads(text.lstrip().splitlines()[0]) if text.strip() else {}
            if isinstance(first_row, Mapping) and "schema_version" in first_row:
                problems = read_problems_jsonl(path)
            else:
                problems = []
                for i, line in enumerate(ln for ln in text.splitlines() if ln.strip()):
                    problems.append(apps_plus_row_to_problem(json.loads(line), i))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except (AttributeError, TypeError) as exc:
        raise DataError(f"{path}: not APPS+ rows ({exc})") from None
    return [p for p in problems if split is None or p.split == split]
