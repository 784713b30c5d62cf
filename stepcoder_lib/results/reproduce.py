"""``make reproduce`` and ``make check-reproduction``: the notebooks in order, headless, with papermill.

Each ``notebooks/NN_*.ipynb`` runs with the profile's parameters (only those its ``parameters`` cell
declares) into ``papermill_runs/<profile>/``. A notebook that fails stops the run with the cell's
error and the path of the partly executed copy, since later notebooks read its outputs.

A step is skipped when nothing it depends on changed since it last succeeded: its *input key*
hashes the notebook's cells, its parameters, the library's source (``stepcoder_lib/**/*.py``) and
the outputs recorded by the steps before it. A step's outputs are the files it created or changed
under the artifacts folder and the run folder (found by comparing sizes and modification times
before and after it ran); they are recorded in ``.stamps/<notebook>.json`` beside the executed
notebooks, and a step whose recorded outputs are gone or changed runs again. ``force=True``
(``FORCE=1``) runs every step.

While a step runs, the terminal shows papermill's cell progress bar (in a terminal only), the notebook's
own output streamed live (papermill's ``stdout_file``/``stderr_file``, like ``--log-output``), and the
library's progress bars (``stepcoder_lib.settings.progress`` draws them on the kernel's terminal when
``STEPCODER_TERMINAL_PROGRESS=1``, which this runner sets for its kernels). Redirected to a file, the
output is one line per update, without carriage returns or cursor movement; kernels run on IPC
transport, so none warns about unencrypted TCP.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_runtime_dir
from traitlets.config import Config

from stepcoder_lib.settings.paths import artifacts_dir, repo_root
from stepcoder_lib.settings.progress import TERMINAL_ENV

REPO = repo_root()
#: Parameters every profile passes to the notebooks that declare them.
PROFILES: dict[str, dict[str, object]] = {name: {"profile": name} for name in ("smoke", "tiny", "small", "paper")}
STAMPS = ".stamps"
@dataclass
class Step:
    """What happened to one notebook in one ``run``."""

    notebook: str
    status: str  # "ran" | "skipped"
    wall_s: float
    key: str
    output: str


def notebooks(folder: Path = REPO / "notebooks") -> list[Path]:
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


# ----------------------------------------------------------------------------- fingerprints
def notebook_digest(path: Path) -> str:
    """sha256 of the notebook's cells (type and source): outputs and metadata do not change what runs."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = [(c.get("cell_type"), "".join(c.get("source", ""))) for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def library_digest(root: Path = REPO / "stepcoder_lib") -> str:
    """sha256 over every library source file (path and bytes)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def snapshot(roots: list[Path], exclude: tuple[str, ...] = (STAMPS,)) -> dict[str, list[int]]:
    """Every file under ``roots``: path -> [size, mtime_ns] (what ``outputs_of`` compares)."""
    files: dict[str, list[int]] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in exclude]
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    st = os.stat(path)
                except OSError:  # removed while walking
                    continue
                files[path] = [st.st_size, st.st_mtime_ns]
    return files


def outputs_of(before: Mapping[str, list[int]], after: Mapping[str, list[int]]) -> dict[str, list[int]]:
    """Files created or changed between two snapshots."""
    return {p: v for p, v in sorted(after.items()) if before.get(p) != v}


def outputs_intact(outputs: Mapping[str, list[int]], latest: Mapping[str, list[int]] | None = None) -> bool:
    """All recorded outputs still exist as they were left: with the size and modification time the
    last step to write them recorded (``latest``: a later step may legitimately rewrite a file)."""
    latest = latest or {}
    for path, state in outputs.items():
        size, mtime = latest.get(path, state)
        try:
            st = os.stat(path)
        except OSError:
            return False
        if (st.st_size, st.st_mtime_ns) != (size, mtime):
            return False
    return True


def input_key(notebook: Path, params: Mapping[str, Any], lib: str, upstream: list[Mapping[str, list[int]]]) -> str:
    blob = json.dumps({"notebook": notebook_digest(notebook), "params": params, "library": lib,
                       "upstream": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


# ----------------------------------------------------------------------------- the kernel's environment
@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """Kernels import this checkout's library and draw ``stepcoder_lib.settings.progress`` bars in this terminal too."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", TERMINAL_ENV)}
    try:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [saved["PYTHONPATH"]])])
        os.environ[TERMINAL_ENV] = "1"
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kernel_config() -> Any:
    """nbclient's configuration for the kernels: IPC sockets (local files) in place of TCP on localhost.

    Over TCP without CurveZMQ keys ipykernel warns, once per notebook, that its traffic is unencrypted: a
    warning nobody running ``make reproduce`` can act on. A kernel on IPC transport has no network traffic
    to warn about; its sockets sit beside the connection file in Jupyter's runtime folder. A socket path
    longer than the system's limit (107 bytes on Linux) cannot be bound: under a very long runtime folder
    the kernels stay on TCP.
    """
    config = Config()
    socket_path = len(os.path.join(jupyter_runtime_dir(), "kernel-00000000-0000-0000-0000-000000000000-ipc-9"))
    if socket_path <= 107:
        config.KernelManager.transport = "ipc"
    return config


# ----------------------------------------------------------------------------- running
def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):  # absent, or cut short: the step simply runs again
        return None


def run(profile: str, out_dir: Path, only: list[str] | None = None, force: bool = False,
        folder: Path | None = None, extra_params: Mapping[str, Any] | None = None,
        lib_root: Path | None = None, log: Callable[[str], None] = print, stream: bool = True) -> list[Step]:
    """Run (or skip) every notebook in order; returns what happened to each.

    ``folder`` (default ``notebooks/``), ``extra_params`` (added to the profile's parameters where
    declared) and ``lib_root`` (the source whose hash keys the steps) exist for tests and for
    running a subset; ``stream`` sends the notebook's output to this terminal as it runs.
    """
    import papermill as pm  # lazy: importing this module needs no papermill

    if profile not in PROFILES:
        raise SystemExit(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / STAMPS).mkdir(exist_ok=True)
    lib = library_digest(lib_root or REPO / "stepcoder_lib")
    watched = [artifacts_dir(), out_dir]
    books = [nb for nb in notebooks(folder or REPO / "notebooks")
             if not only or any(nb.name.startswith(o) for o in only)]
    stamps = {nb.stem: _read_stamp(out_dir / STAMPS / f"{nb.stem}.json") for nb in books}
    latest: dict[str, list[int]] = {}  # each file as the last step (in order) that wrote it left it
    for stamp in stamps.values():
        latest.update((stamp or {}).get("outputs", {}))
    upstream: list[Mapping[str, list[int]]] = []
    steps: list[Step] = []
    for i, nb in enumerate(books, 1):
        declared = pm.inspect_notebook(str(nb))
        wanted = {**PROFILES[profile], "results_to": str(out_dir / "results"), **dict(extra_params or {})}
        params = {k: v for k, v in wanted.items() if k in declared}  # results_to: notebook 06 writes beside the runs
        out = out_dir / nb.name
        stamp_path = out_dir / STAMPS / f"{nb.stem}.json"
        key = input_key(nb, params, lib, upstream)
        stamp = stamps[nb.stem]
        head = f"[{i}/{len(books)}] {nb.stem} ({profile})"
        if (not force and stamp and stamp.get("key") == key and out.is_file()
                and outputs_intact(stamp.get("outputs", {}), latest)):
            log(f"{head}: inputs unchanged since {stamp.get('finished', '?')}, skipped (FORCE=1 redoes it)")
            upstream.append(stamp["outputs"])
            steps.append(Step(nb.name, "skipped", float(stamp.get("wall_s", 0.0)), key, str(out)))
            continue
        log(f"{head}: running -> {out}")
        stamp_path.unlink(missing_ok=True)  # a failed step must not look done
        before = snapshot(watched)
        t0 = time.time()
        with _kernel_environment():
            try:
                pm.execute_notebook(str(nb), str(out), parameters=params, cwd=str(nb.parent), kernel_name="python3",
                                    progress_bar=stream and sys.stderr.isatty(),  # a log file gets no \r redraws
                                    stdout_file=sys.stdout if stream else None,
                                    stderr_file=sys.stderr if stream else None, config=kernel_config())
            except pm.PapermillExecutionError as exc:
                raise SystemExit(f"{nb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                                 f"(partly executed copy: {out})") from None
        wall = time.time() - t0
        outputs = outputs_of(before, snapshot(watched))
        stamp = {"key": key, "notebook": nb.name, "params": params, "wall_s": round(wall, 1),
                 "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "outputs": outputs}
        stamp_path.write_text(json.dumps(stamp, indent=1, default=str) + "\n", encoding="utf-8")
        log(f"{head}: done in {wall:.0f}s ({len(outputs)} files written)")
        latest.update(outputs)
        upstream.append(outputs)
        steps.append(Step(nb.name, "ran", wall, key, str(out)))
    (out_dir / "timings.json").write_text(json.dumps([asdict(s) for s in steps], indent=1) + "\n", encoding="utf-8")
    return steps


def report(profile: str, out_dir: Path, steps: list[Step], log: Callable[[str], None] = print) -> None:
    """The closing lines: wall time per notebook, then where the table and figures are."""
    log("\nwall time per notebook (s; skipped: the time of the run that made its outputs):")
    for s in steps:
        log(f"  {s.notebook:32s} {s.wall_s:8.1f}  {s.status}")
    results = out_dir / "results"
    table = results / "table.md"
    if table.is_file():
        log(f"\nresults table ({profile}): {table}  (also {results / 'table.csv'}, {results / 'table.png'})")
        log(table.read_text(encoding="utf-8"))
        figures = sorted(p.name for p in results.glob("*.png"))
        log(f"figures in {results}: {', '.join(figures)}")
        log(f"provenance of every number: {results / 'cells.csv'}")
    else:
        log(f"\nno results table yet ({table} is absent: notebook 06 did not run)")


# ----------------------------------------------------------------------------- reference checks
def reference_dir(profile: str) -> Path:
    """``papermill_runs/reference/<profile>``: the committed copy of a profile's table and figures."""
    return REPO / "papermill_runs" / "reference" / profile


def check(profile: str, out_dir: Path, reference: Path | None = None,
          log: Callable[[str], None] = print) -> int:
    """Compare the run's table with the reference copy, estimate by estimate, by their intervals.

    Every cell and paired difference of the reference must be reproduced: the 95% interval of
    rerun - reference contains 0 (``results_table.compare_to_reference``). Returns 0 when all are,
    1 otherwise (one outside, missing or without an interval, a reference figure not written, or no
    reference).
    """
    from stepcoder_lib.results.table import (  # lazy: importing this module needs no pandas
        compare_to_reference,
        read_table_csv,
    )

    reference = reference or reference_dir(profile)
    current_csv = Path(out_dir) / "results" / "table.csv"
    if not (reference / "table.csv").is_file():
        log(f"no reference table at {reference / 'table.csv'}: produce one with "
            f"`python -m stepcoder_lib.results.reproduce --profile {profile} --update-reference` and commit it")
        return 1
    if not current_csv.is_file():
        log(f"no table at {current_csv}: notebook 06 did not run")
        return 1
    comparison = compare_to_reference(read_table_csv(current_csv), read_table_csv(reference / "table.csv"))
    log(f"\neach cell and paired difference against the reference ({reference / 'table.csv'}); within: the 95% "
        f"interval of ours - reference contains 0:")
    log(comparison.round(2).to_markdown(index=False))
    missing_figures = sorted(p.name for p in reference.glob("*.png") if not (current_csv.parent / p.name).is_file())
    if missing_figures:
        log(f"figures in the reference that this run did not write: {', '.join(missing_figures)}")
    counts = comparison.status.value_counts().to_dict()
    log(f"\n{counts.get('within', 0)} estimates within, {counts.get('outside', 0)} outside, "
        f"{counts.get('missing', 0)} missing, {counts.get('no interval', 0)} without an interval, "
        f"{counts.get('new', 0)} new")
    bad = counts.get("outside", 0) + counts.get("missing", 0) + counts.get("no interval", 0) + len(missing_figures)
    return 1 if bad else 0


def update_reference(profile: str, out_dir: Path, reference: Path | None = None) -> Path:
    """Copy the run's table (md, csv, png), its cells and its figures to the reference folder."""
    reference = reference or reference_dir(profile)
    results = Path(out_dir) / "results"
    if not (results / "table.csv").is_file():
        raise SystemExit(f"no table at {results / 'table.csv'}: run the notebooks first")
    reference.mkdir(parents=True, exist_ok=True)
    for path in [*results.glob("table.*"), results / "cells.csv", *results.glob("differences.*"),
                 *results.glob("claims.*"), *results.glob("validation.*"), *results.glob("*.png")]:
        if path.is_file():
            shutil.copy2(path, reference / path.name)
    return reference


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--out", default=None, help="default: papermill_runs/<profile>")
    ap.add_argument("--only", nargs="*", help="notebook number prefixes to run, e.g. 01 03")
    ap.add_argument("--force", action="store_true", help="run every notebook even when its inputs are unchanged")
    ap.add_argument("--check", action="store_true", help="then compare the table with the committed reference")
    ap.add_argument("--update-reference", action="store_true", help="then copy the table and figures to the reference")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else REPO / "papermill_runs" / args.profile
    t0 = time.time()
    steps = run(args.profile, out, args.only, force=args.force)
    report(args.profile, out, steps)
    print(f"\nmake reproduce ({args.profile}) finished in {time.time() - t0:.0f}s")
    if args.update_reference:
        print(f"reference updated: {update_reference(args.profile, out)}")
    return check(args.profile, out) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())
