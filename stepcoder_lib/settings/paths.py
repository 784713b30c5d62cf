"""Where things live: the checkout, its generated artifacts, and the real validation data beside it.

The one place that computes the repository root; everything else asks here.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]  # stepcoder_lib/settings/paths.py


def repo_root() -> Path:
    """The project checkout (the folder holding ``stepcoder_lib``)."""
    return _REPO_ROOT


def artifacts_dir() -> Path:
    """Generated, cached outputs (tokenizers, models, datasets): ``$STEPCODER_ARTIFACTS`` or ``<repo>/artifacts``."""
    env = os.environ.get("STEPCODER_ARTIFACTS")
    return Path(env) if env else _REPO_ROOT / "artifacts"


def realdata_dir() -> Path:
    """Real public validation data: ``$STEPCODER_REALDATA`` or ``<repo>/../shared/realdata`` (may be absent)."""
    env = os.environ.get("STEPCODER_REALDATA")
    return Path(env) if env else (_REPO_ROOT.parent / "shared" / "realdata")


def resolve(path: str | Path) -> Path:
    """A user-given path: ``~`` expanded, relative paths taken from the checkout (notebooks run in ``notebooks/``)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else _REPO_ROOT / p


def notebook_output_dir(out_dir: str | Path | None, notebook: str) -> Path:
    """Where a notebook writes its figures: ``out_dir`` if given, else ``artifacts/notebooks/<notebook>``; created."""
    out = resolve(out_dir) if out_dir else artifacts_dir() / "notebooks" / notebook
    out.mkdir(parents=True, exist_ok=True)
    return out


def portable_path(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` relative to ``root`` (default: the artifacts folder), else to the checkout, in POSIX form.

    Why: files meant to be committed (the results table's ``cells.csv``, ``provenance.json``) must not hold
    one machine's absolute paths. A path under neither folder, or a value that is not a local path (a hub
    model id such as ``"Qwen/Qwen2.5-0.5B"``), is returned unchanged.
    """
    text = str(path)
    candidate = Path(text)
    if not candidate.is_absolute():
        return text
    for base in (Path(root) if root is not None else artifacts_dir(), _REPO_ROOT):
        try:
            return candidate.resolve().relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            continue
    return text
