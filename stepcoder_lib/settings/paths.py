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
