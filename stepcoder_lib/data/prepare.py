"""The APPS+ a profile trains and evaluates on, built once and cached by a hash of its inputs.

Cleaning runs every candidate solution in the sandbox (4-8 minutes for the ``tiny`` dataset on
2 cores), so ``make reproduce`` and every notebook after 01 must not redo it when nothing changed.
The cache key covers what the result depends on: the source (the synthetic generator's size and
seed, a local folder's file listing, or a hub id), the cleaning settings, and the content of the
library files that generate, read, clean and execute problems. Change any of them and the next
call builds a new ``artifacts_dir()/apps_plus/<key>/`` beside the old one.

    path = prepare_apps_plus(get_profile("tiny"))     # .../apps_plus/tiny-<hash>/apps_plus.jsonl (+ report)
    splits = load_splits(get_profile("tiny"))          # {"train": [...], "validation": [...], "test": [...]}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stepcoder_lib.data.apps import load_apps_plus
from stepcoder_lib.data.cleaning import clean_apps
from stepcoder_lib.data.problem import SPLITS, DataUnavailable, Problem
from stepcoder_lib.data.synthetic import SIZES, generate_benchmark
from stepcoder_lib.settings.cache import build_once, input_digest, library_files
from stepcoder_lib.settings.paths import artifacts_dir, repo_root

#: Library sources whose change changes the cleaned dataset (generation, reading, cleaning, judging).
PIPELINE_FILES = ("data/synthetic/*.py", "data/apps.py", "data/cleaning.py", "data/problem.py", "data/report.py",
                  "data/conditionals.py", "executor/*.py")
#: Cleaning settings (``clean_apps`` keywords) used for every source; ``time_limit_s`` comes from the profile.
CLEANING = {"max_candidates": 10, "seed": 0, "respect_source_split": True}


def _local_path(source: str) -> Path:
    path = Path(source).expanduser()
    return path if path.is_absolute() else repo_root() / path


def _is_hub_id(source: str) -> bool:
    return source.startswith("hf://") or (source.count("/") == 1 and not source.startswith((".", "/", "~")))


def _source_identity(source: str) -> dict[str, Any]:
    """What identifies a source's content: the generator config, a local listing, or the hub id."""
    if source == "synthetic":
        raise ValueError("synthetic sources are identified by their generator config")
    path = _local_path(source)
    if path.exists():
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        listing = [(str(f.relative_to(path)) if f != path else f.name, f.stat().st_size, f.stat().st_mtime_ns)
                   for f in files]
        return {"kind": "local", "path": str(path.resolve()), "listing_digest": input_digest(listing)}
    if _is_hub_id(source):
        return {"kind": "hub", "id": source}
    raise DataUnavailable(f"Could not load APPS: the data source {source!r} is neither an existing local path nor a "
                          "hub id (owner/name); set data.source to an APPS folder, a JSON lines file or a hub id.")


def _generator_config(data: Any) -> dict[str, Any]:
    """The synthetic generator's keywords: its named size, then the profile's ``synthetic_options``."""
    if data.synthetic_size not in SIZES:
        raise KeyError(f"data.synthetic_size {data.synthetic_size!r} is not one of {', '.join(SIZES)}")
    return {**SIZES[data.synthetic_size], **dict(data.synthetic_options)}


def _cleaning_settings(profile: Any) -> dict[str, Any]:
    """``clean_apps`` keywords for this profile: the fixed ones, its split fractions and per-test time limit."""
    return {**CLEANING, "fractions": tuple(profile.data.split_fractions),
            "time_limit_s": profile.executor.time_limit_s}


def dataset_key(profile: Any) -> str:
    """``<name>-<hash>``: the cache folder name of this profile's APPS+ (no data is read or built)."""
    data = profile.data
    cleaning = _cleaning_settings(profile)
    if data.source == "synthetic":
        config = {"source": "synthetic", "generator": _generator_config(data), "cleaning": cleaning}
        name = data.synthetic_size
    else:
        config = {"source": _source_identity(data.source), "cleaning": cleaning}
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(data.source.rstrip("/")).name)[:40] or "apps"
    return f"{name}-{input_digest(config, library_files(*PIPELINE_FILES))}"


def prepare_apps_plus(profile: Any, force: bool = False, progress: bool = True) -> Path:
    """The folder holding this profile's ``apps_plus.jsonl`` (and the cleaning report), built if missing.

    ``data.apps_plus`` (an existing APPS+ file) is used as is. Otherwise the source is cleaned with
    ``clean_apps`` -- for ``synthetic``, after generating the benchmark into the same folder
    (``benchmark/``, with its ``truth.json``). ``force`` rebuilds even when the key is cached.
    Raises ``DataUnavailable`` (one sentence) when the source cannot be reached.
    """
    return clean_profile_data(profile, force=force, progress=progress)[0]


def clean_profile_data(profile: Any, force: bool = False, progress: bool = True) -> tuple[Path, Any]:
    """``prepare_apps_plus``, also returning the ``CleaningResult`` when this call ran the cleaning (None when
    the folder was already built, or ``data.apps_plus`` names a file): notebook 01 shows it, with its
    per-stage timings, and cleans exactly the data the later notebooks train on."""
    data = profile.data
    if data.apps_plus:
        path = _local_path(data.apps_plus)
        if not path.exists():
            raise DataUnavailable(f"Could not load APPS+: data.apps_plus is {path}, which does not exist; "
                                  "point it at an apps_plus.jsonl or leave it None to build one from data.source.")
        return path, None
    key = dataset_key(profile)
    cleaning = _cleaning_settings(profile)

    results = []

    def build(tmp: Path) -> None:
        source: Any = data.source
        if data.source == "synthetic":
            source = tmp / "benchmark"
            generate_benchmark(source, **_generator_config(data), progress=progress)
        elif _local_path(data.source).exists():
            source = _local_path(data.source)
        results.append(clean_apps(source, tmp, workers=profile.executor.workers, progress=progress, **cleaning))

    folder = build_once(artifacts_dir() / "apps_plus" / key, build, force=force,
                        inputs={"key": key, "source": data.source, "synthetic_size": data.synthetic_size,
                                "cleaning": cleaning})
    return folder, (results[0] if results else None)


def cap_stratified(problems: list[Problem], limit: int | None) -> list[Problem]:
    """At most ``limit`` problems keeping each difficulty's share (largest remainder), in id order."""
    if limit is None or len(problems) <= limit:
        return list(problems)
    by_diff: dict[str, list[Problem]] = {}
    for p in sorted(problems, key=lambda p: p.id):
        by_diff.setdefault(p.difficulty, []).append(p)
    raw = {d: limit * len(ps) / len(problems) for d, ps in by_diff.items()}
    quota = {d: int(r) for d, r in raw.items()}
    for d in sorted(raw, key=lambda d: (-(raw[d] - quota[d]), d))[: limit - sum(quota.values())]:
        quota[d] += 1
    return sorted((p for d, ps in by_diff.items() for p in ps[: quota[d]]), key=lambda p: p.id)


def load_splits(profile: Any, progress: bool = True) -> dict[str, list[Problem]]:
    """Train / validation / test problems of the profile's APPS+ (built if needed), capped by the profile.

    ``data.max_train_problems`` caps train, ``data.max_eval_problems`` each evaluation split; a cap
    keeps every difficulty's share, so per-difficulty numbers stay comparable across profiles.
    """
    problems = load_apps_plus(prepare_apps_plus(profile, progress=progress))
    splits = {name: [p for p in problems if p.split == name] for name in SPLITS}
    caps = {"train": profile.data.max_train_problems, "validation": profile.data.max_eval_problems,
            "test": profile.data.max_eval_problems}
    return {name: cap_stratified(ps, caps[name]) for name, ps in splits.items()}
