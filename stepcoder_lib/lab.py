"""``make lab``: JupyterLab from the project's venv on the notebooks, with jupytext's pairing in effect.

jupytext's server extension (installed with jupytext) opens each ``.py`` as a notebook and, on every save,
writes its paired ``.ipynb`` too, but it looks for ``jupytext.toml`` only inside the folder the server serves.
So the server serves the checkout (where ``jupytext.toml`` is) and the file browser opens on ``notebooks/``;
kernels start in the notebook's folder, as under papermill. JupyterLab itself would open a ``.py`` in its text
editor: ``jupyter_config/labconfig/default_setting_overrides.json`` makes jupytext's notebook view the default
for Python files (a default: a user's own settings, or "Open With > Editor", still win). The browser test
(tests/test_lab_browser.py) starts the server through :func:`lab_argv` and :func:`lab_env` too, so what it
checks is what ``make lab`` runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from stepcoder_lib.paths import repo_root


def lab_argv(root: Path | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The command line: JupyterLab serving ``root`` (the checkout), opened on ``root/notebooks``."""
    root = repo_root() if root is None else root
    if not (root / "notebooks").is_dir():
        raise FileNotFoundError(f"JupyterLab root {root}: no notebooks/ folder to open on")
    # Jupyter refuses to serve as root unless told; containers and CI run as root.
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
            "--ContentsManager.preferred_dir=notebooks", *as_root, *extra]


def lab_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the checkout's ``jupyter_config/`` first on Jupyter's config path."""
    env = dict(os.environ if env is None else env)
    ours = str(repo_root() / "jupyter_config")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (ours, env.get("JUPYTER_CONFIG_PATH")) if p)
    return env


def main(argv: Sequence[str] | None = None) -> None:
    """Replace this process by JupyterLab; extra arguments (``make lab LAB_ARGS=...``) go to it unchanged."""
    args = lab_argv(extra=sys.argv[1:] if argv is None else argv)
    os.execve(args[0], args, lab_env())


if __name__ == "__main__":
    main()
