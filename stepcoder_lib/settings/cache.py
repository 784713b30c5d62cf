"""Build-once artifacts keyed by a hash of their inputs (datasets, tokenizers, models, SFT runs).

A step is skipped when nothing it depends on changed: its settings, the library source files that
produce it, and the artifacts it reads (whose own keys already hash their inputs). The key goes in
the folder name, so a changed input builds a new folder beside the old one and nothing is
overwritten while something else may read it. A folder is published by renaming a finished temp
folder, so an interrupted build leaves no half-written artifact and concurrent builders race safely.

    key = input_digest({"n_train": 3000}, library_files("data/synthetic/*.py"))
    path = build_once(artifacts_dir() / "apps_plus" / f"tiny-{key}", lambda tmp: make(tmp), inputs={...})
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from stepcoder_lib.settings.paths import repo_root

#: Written last into a built folder: what it was built from. Its presence means "complete".
MANIFEST = "cache_inputs.json"
#: In a build's temp folder: the builder's process id, so that a killed build's leftovers can be removed.
_OWNER = ".builder_pid"


def library_files(*patterns: str) -> list[Path]:
    """Files of ``stepcoder_lib`` matching glob ``patterns`` (e.g. ``"executor/*.py"``), sorted."""
    root = repo_root() / "stepcoder_lib"
    files = sorted({p for pat in patterns for p in root.glob(pat) if p.is_file()})
    if not files:
        raise FileNotFoundError(f"no library files match {patterns} under {root}")
    return files


def input_digest(config: Any, files: Iterable[str | Path] = (), length: int = 16) -> str:
    """SHA-256 of ``config`` (JSON, sorted keys) and the bytes of ``files`` (named relative to the repo)."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode("utf-8"))
    root = repo_root()
    for f in sorted(Path(f) for f in files):
        name = str(f.relative_to(root)) if f.is_relative_to(root) else f.name
        h.update(b"\0" + name.encode("utf-8") + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:length]


def is_built(path: str | Path) -> bool:
    """Whether ``path`` is a finished artifact (its manifest exists)."""
    return (Path(path) / MANIFEST).is_file()


def _remove_abandoned(target: Path) -> None:
    """Delete temp folders of earlier builds of ``target`` whose builder process is gone (killed builds)."""
    for tmp in target.parent.glob(f".{target.name}-*"):
        try:
            pid = int((tmp / _OWNER).read_text(encoding="utf-8"))
            os.kill(pid, 0)  # raises if no such process
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (OSError, ValueError):  # unreadable owner, or a process we may not signal: leave it alone
            continue


def build_once(target: str | Path, build: Callable[[Path], Any], inputs: Mapping[str, Any] | None = None,
               force: bool = False) -> Path:
    """Return ``target``, first running ``build(tmp_dir)`` and publishing it there unless already built."""
    target = Path(target)
    if is_built(target) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; artifacts are for everyone who can read the checkout
    (tmp / _OWNER).write_text(str(os.getpid()), encoding="utf-8")
    try:
        build(tmp)
        (tmp / _OWNER).unlink()
        (tmp / MANIFEST).write_text(json.dumps(dict(inputs or {}), indent=1, sort_keys=True, default=str) + "\n",
                                    encoding="utf-8")
        if target.exists() and (force or not is_built(target)):
            shutil.rmtree(target)  # a forced rebuild, or leftovers of a build that never finished
        try:
            os.rename(tmp, target)
        except OSError:  # another process published the same key first; its content is equivalent
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
