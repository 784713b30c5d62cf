"""APPS and APPS+ loaders.

Readers return ``RawApps`` records, one per problem, exactly as stored (parsed JSON, decoded
text). They never raise for one bad problem: a corrupt file, an unreadable encoding or an
unreadable file is recorded in ``RawApps.error`` so the cleaning pipeline can drop that problem
with its reason and go on. Only an unreachable source raises (``DataUnavailable``).

Sources, picked by ``read_apps``:

* the original folder layout ``<root>/{train,test}/<id>/{question.txt, solutions.json,
  input_output.json, metadata.json, starter_code.py}`` (``root`` may also be one split folder);
* JSON lines with the ``codeparrot/apps`` row fields (``problem_id, question, solutions,
  input_output, difficulty, url, starter_code``; ``solutions`` / ``input_output`` are JSON
  strings), a file or a folder holding ``train.jsonl`` / ``test.jsonl``;
* a dataset saved with ``datasets.save_to_disk`` (same row fields), or a ``datasets`` object;
* the hub: ``hf://datasets/codeparrot/apps`` or ``codeparrot/apps`` (its ``train.jsonl`` /
  ``test.jsonl`` read with the ``datasets`` json builder; the repo's loading script is not run).

``standardise_tests`` is the normalisation (cleaning stage 2) shared by ``load_apps``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from stepcoder_lib.data.loaders import load_hub_dataset, missing_local
from stepcoder_lib.data.problem import DataError, DataUnavailable, Problem, read_problems_jsonl
from stepcoder_lib.testcases import TestCases

APPS_HUB_ID = "codeparrot/apps"
APPS_FILES = ("question.txt", "solutions.json", "input_output.json", "metadata.json", "starter_code.py")
_HINT = (
    "pass apps_path=/path/to/APPS with train/ and test/ problem folders "
    "(or a train.jsonl/test.jsonl downloaded from the codeparrot/apps dataset)"
)

# Load-failure reasons (the cleaning report counts these under stage "load").
CORRUPT_FILE = "corrupt file"
BAD_ENCODING = "unreadable encoding"
UNREADABLE_FILE = "unreadable file"


@dataclass(frozen=True)
class RawApps:
    """One APPS problem as stored. ``None`` = the file/field is absent; ``error`` = (reason, detail)."""

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
        raise DataError(f"problem {pid}: field 'input_output': expected a JSON object, got {type(input_output).__name__}")
    inputs, outputs = input_output.get("inputs"), input_output.get("outputs")
    for name, seq in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(seq, list):
            raise DataError(f"problem {pid}: field '{name}': expected a list, got {type(seq).__name__}")
    if len(inputs) != len(outputs):
        raise DataError(f"problem {pid}: field 'outputs': {len(outputs)} outputs for {len(inputs)} inputs")
    notes: dict[str, Any] = {}
    fn_name = input_output.get("fn_name")
    if fn_name not in (None, ""):
        if not isinstance(fn_name, str) or not fn_name.isidentifier():
            raise DataError(f"problem {pid}: field 'fn_name': {fn_name!r} is not a Python identifier")
        for i, args in enumerate(inputs):
            if not isinstance(args, list):
                raise DataError(
                    f"problem {pid}: field 'inputs[{i}]': call-based inputs must be argument lists, got {type(args).__name__}"
                )
        tests = TestCases("call", tuple(inputs), tuple(outputs), fn_name=fn_name)
    else:
        ins, outs, joined = [], [], 0
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


# ----------------------------------------------------------------------------- folder layout
def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _problem_from_folder(folder: Path, split: str, source: str) -> RawApps:
    pid = f"{source}/{split}/{folder.name}" if split else f"{source}/{folder.name}"
    rel = f"{split}/{folder.name}" if split else folder.name  # relative: outputs must not depend on where data lives
    values: dict[str, Any] = {}
    for name in APPS_FILES:
        path = folder / name
        if not path.exists():
            values[name] = None
            continue
        try:
            text = _read_text(path)
            values[name] = json.loads(text) if name.endswith(".json") else text
        except UnicodeDecodeError as exc:
            detail = f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})"
            return RawApps(pid, source, split, "unknown", None, None, None, error=(BAD_ENCODING, detail),
                           metadata={"path": rel})
        except json.JSONDecodeError as exc:
            detail = f"{name}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            return RawApps(pid, source, split, "unknown", None, None, None, error=(CORRUPT_FILE, detail),
                           metadata={"path": rel})
        except OSError as exc:
            return RawApps(pid, source, split, "unknown", None, None, None,
                           error=(UNREADABLE_FILE, f"{name}: {exc.strerror or exc}"), metadata={"path": rel})
    meta = values["metadata.json"]
    if meta is not None and not isinstance(meta, Mapping):
        return RawApps(pid, source, split, "unknown", None, None, None,
                       error=(CORRUPT_FILE, "metadata.json: expected a JSON object"), metadata={"path": rel})
    meta = dict(meta or {})
    difficulty = str(meta.pop("difficulty", "") or "unknown").lower()
    return RawApps(
        id=pid, source=source, source_split=split, difficulty=difficulty,
        question=values["question.txt"], solutions=values["solutions.json"],
        input_output=values["input_output.json"], starter_code=values["starter_code.py"] or "",
        metadata={**meta, "original_id": folder.name, "path": rel},
    )


def _problem_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_apps_folder(root: str | Path, splits: Iterable[str] | None = None, source: str | None = None,
                     progress: bool = False) -> list[RawApps]:
    """All problems under an APPS-layout folder (``root/{train,test}/<id>/`` or one split folder)."""
    root = Path(root)
    if not root.is_dir():
        raise missing_local("APPS", root, _HINT)
    source = source or _default_source(root)
    split_dirs = [(s, root / s) for s in ("train", "test") if (root / s).is_dir()]
    if not split_dirs:  # root is one split folder (or a folder of problems)
        split_dirs = [(root.name if root.name in ("train", "test") else "", root)]
    wanted = set(splits) if splits else None
    jobs = [(s, d) for s, sd in split_dirs if wanted is None or s in wanted for d in _problem_dirs(sd)]
    out = []
    for split, folder in _progress(jobs, progress, "reading APPS folders"):
        out.append(_problem_from_folder(folder, split, source))
    return out


def _default_source(root: Path) -> str:
    """``bench`` for a folder written by the benchmark generator (it leaves ``truth.json``), else ``apps``."""
    return "bench" if (root / "truth.json").exists() else "apps"


def _progress(items: list[Any], enabled: bool, desc: str) -> Iterable[Any]:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc)


# ----------------------------------------------------------------------------- rows (jsonl / hub)
def _maybe_json(value: Any) -> Any:
    """codeparrot rows keep solutions / input_output as JSON strings ("" = absent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return json.loads(value)
    return value


def raw_from_row(row: Mapping[str, Any], split: str, source: str = "apps", where: str = "") -> RawApps:
    """One codeparrot/apps-style row as a RawApps (bad fields are recorded, not raised)."""
    pid_raw = row.get("problem_id", row.get("id"))
    folder = f"{int(pid_raw):04d}" if isinstance(pid_raw, int) or str(pid_raw).isdigit() else str(pid_raw)
    pid = f"{source}/{split}/{folder}" if split else f"{source}/{folder}"
    meta = {"original_id": folder, **({"url": row["url"]} if row.get("url") else {}), **({"where": where} if where else {})}
    difficulty = str(row.get("difficulty") or "unknown").lower()
    parsed: dict[str, Any] = {}
    for name in ("solutions", "input_output"):
        try:
            parsed[name] = _maybe_json(row.get(name))
        except json.JSONDecodeError as exc:
            return RawApps(pid, source, split, difficulty, None, None, None, metadata=meta,
                           error=(CORRUPT_FILE, f"{where or 'row'}: field '{name}': invalid JSON ({exc.msg})"))
    question = row.get("question")
    return RawApps(pid, source, split, difficulty, question if isinstance(question, str) else None,
                   parsed["solutions"], parsed["input_output"], str(row.get("starter_code") or ""), meta)


def read_apps_jsonl(path: str | Path, split: str | None = None, source: str = "apps") -> list[RawApps]:
    """codeparrot/apps rows from a JSON lines file; a corrupt line becomes a RawApps with an error."""
    path = Path(path)
    if not path.is_file():
        raise missing_local("APPS", path, _HINT)
    split = split if split is not None else next((s for s in ("train", "test") if path.name.startswith(s)), "")
    out = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, Mapping):
                    raise ValueError("not a JSON object")
            except UnicodeDecodeError as exc:
                out.append(RawApps(f"{source}/{split}/line{lineno:05d}", source, split, "unknown", None, None, None,
                                   error=(BAD_ENCODING, f"{where}: not UTF-8 ({exc.reason})")))
                continue
            except ValueError as exc:
                out.append(RawApps(f"{source}/{split}/line{lineno:05d}", source, split, "unknown", None, None, None,
                                   error=(CORRUPT_FILE, f"{where}: invalid JSON ({getattr(exc, 'msg', exc)})")))
                continue
            out.append(raw_from_row(row, split, source, where))
    return out


def read_apps_dataset(ds: Any, source: str = "apps") -> list[RawApps]:
    """Rows of a ``datasets.Dataset`` / ``DatasetDict`` (split names from the dict keys)."""
    parts = ds.items() if hasattr(ds, "items") else [("", ds)]
    out = []
    for split, part in parts:
        for i, row in enumerate(part):
            out.append(raw_from_row(row, split, source, where=f"{split or 'rows'}[{i}]"))
    return out


def read_apps_hub(hub_id: str = APPS_HUB_ID, splits: Iterable[str] = ("train", "test"), also_tried: str = "") -> list[RawApps]:
    """APPS from the hub: the repo's ``<split>.jsonl`` files through the ``datasets`` json builder."""
    repo = hub_id.removeprefix("hf://datasets/").strip("/")
    files = {s: f"hf://datasets/{repo}/{s}.jsonl" for s in splits}
    target = f"{repo} (files {', '.join(s + '.jsonl' for s in files)})"
    ds = load_hub_dataset("APPS", _HINT, "json", data_files=files, hub_target=target, also_tried=also_tried)
    return read_apps_dataset(ds)


def read_apps(source: Any, splits: Iterable[str] | None = None, source_name: str | None = None,
              progress: bool = False) -> list[RawApps]:
    """Raw APPS records from any supported source (see the module docstring)."""
    if hasattr(source, "column_names") or type(source).__name__ in ("Dataset", "DatasetDict"):
        return read_apps_dataset(source, source_name or "apps")
    text = str(source)
    path = Path(text).expanduser()
    if not path.exists():
        if text.startswith("hf://"):
            return read_apps_hub(text, tuple(splits) if splits else ("train", "test"))
        if text.count("/") == 1 and not text.startswith((".", "/", "~")):  # "owner/name": a hub id
            return read_apps_hub(text, tuple(splits) if splits else ("train", "test"),
                                 also_tried=f"the local path {path} (it does not exist) and")
        raise missing_local("APPS", path, _HINT)
    name = source_name or _default_source(path if path.is_dir() else path.parent)
    wanted = set(splits) if splits else None
    if path.is_file():
        return [r for r in read_apps_jsonl(path, source=name) if wanted is None or r.source_split in wanted]
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        import datasets

        rows = read_apps_dataset(datasets.load_from_disk(str(path)), name)
        return [r for r in rows if wanted is None or r.source_split in wanted]
    jsonl = sorted(p for p in path.glob("*.jsonl") if p.name.split(".")[0] in ("train", "test"))
    if jsonl and not any((path / s).is_dir() for s in ("train", "test")):
        return [r for p in jsonl for r in read_apps_jsonl(p, source=name)
                if wanted is None or r.source_split in wanted]
    return read_apps_folder(path, splits, name, progress)


# ----------------------------------------------------------------------------- Problems
def raw_to_problem(raw: RawApps) -> Problem:
    """Standardised Problem from a readable RawApps (no execution). DataError names id and field."""
    if raw.error:
        raise DataError(f"problem {raw.id}: {raw.error[0]}: {raw.error[1]}")
    if raw.input_output is None:
        tests, notes = TestCases("stdin", ()), {"no_tests": True}
    else:
        tests, notes = standardise_tests(raw.input_output, raw.id)
    meta = {**raw.metadata, "source_split": raw.source_split}
    if notes:
        meta["standardised"] = notes
    if raw.starter_code:
        meta["apps_starter_code"] = normalise_newlines(raw.starter_code)
    return Problem(
        id=raw.id, source=raw.source, difficulty=raw.difficulty,
        statement=normalise_newlines(raw.question or ""), tests=tests,
        starter_code=normalise_newlines(raw.starter_code), solutions=tuple(string_solutions(raw.solutions)),
        canonical_solution=None, split=raw.source_split, metadata=meta,
    )


def load_apps(source: Any, splits: Iterable[str] | None = None, *, errors: str = "raise",
              source_name: str | None = None, progress: bool = False) -> list[Problem]:
    """APPS problems as standardised ``Problem`` records, uncleaned (solutions not judged).

    Problems without solutions or tests are kept (APPS test problems often have none). Problems
    whose files are unreadable or whose tests are malformed are skipped; after reading them all,
    ``errors="raise"`` raises one DataError listing them, ``"warn"`` warns and returns the rest.
    """
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn', got {errors!r}")
    problems, bad = [], []
    for raw in read_apps(source, splits, source_name, progress):
        try:
            problems.append(raw_to_problem(raw))
        except DataError as exc:
            bad.append(str(exc))
    if bad:
        msg = f"{len(bad)} APPS problem(s) could not be loaded: " + "; ".join(bad[:5]) + ("; ..." if len(bad) > 5 else "")
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
        try:
            canonical = json.loads(canonical)
        except json.JSONDecodeError:
            pass
    if isinstance(canonical, list):
        canonical = next((c for c in canonical if isinstance(c, str)), None)
    if not isinstance(canonical, str):
        raise DataError(f"problem {pid}: field 'canonical_solution' is missing")
    io = row.get("input_output")
    if isinstance(io, str):
        try:
            io = json.loads(io)
        except json.JSONDecodeError as exc:
            raise DataError(f"problem {pid}: field 'input_output': invalid JSON ({exc.msg})") from None
    io = dict(io or {})
    for k in ("inputs", "outputs", "fn_name"):
        if k in row:
            io[k] = row[k]
    tests, notes = standardise_tests(io, pid)
    canonical = normalise_newlines(canonical)
    meta: dict[str, Any] = {k: row[k] for k in ("url", "name") if k in row}
    conds_raw = _pick(row, "conditionals")
    keys = {"kind", "start_char", "end_char", "start_line", "end_line"}
    if isinstance(conds_raw, list) and all(isinstance(c, Mapping) and keys <= set(c) for c in conds_raw):
        conds = tuple({k: c[k] for k in sorted(keys)} for c in conds_raw)
    else:
        from stepcoder_lib.data.cleaning import extract_conditionals

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
        text = path.read_text(encoding="utf-8")
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
