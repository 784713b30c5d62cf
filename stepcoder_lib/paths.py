"""Where things live: the checkout, its generated artifacts, and the real validation data beside it.

The one place that computes the repository root; everything else asks here.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]


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
