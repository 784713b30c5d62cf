"""``make reproduce`` redirected to a log: one line per update, no escape codes, no kernel TCP warning.

A real papermill run of a tiny notebook through ``reproduce.run``'s streaming path, in a subprocess whose
stdout and stderr are a pipe (not a terminal), as in ``make reproduce > log 2>&1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from stepcoder_lib.settings.paths import repo_root
from stepcoder_lib.settings.progress import TERMINAL_ENV

WORK = """\
import time
from stepcoder_lib.settings.progress import progress
for _ in progress(range(4), desc="fake work"):
    time.sleep(0.05)
print("notebook says hello")
"""
RUNNER = """\
import sys
from pathlib import Path
from stepcoder_lib.results import reproduce
reproduce.run("smoke", Path(sys.argv[1]), folder=Path(sys.argv[2]), lib_root=Path(sys.argv[2]), force=True)
"""


@pytest.mark.slow
def test_reproduce_log_has_one_line_per_update_no_escape_codes_and_no_tcp_warning(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "tiny"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(WORK)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(folder / "01_work.ipynb"))
    env = {**os.environ, "PYTHONPATH": str(repo_root()), "STEPCODER_ARTIFACTS": str(tmp_path / "artifacts"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop(TERMINAL_ENV, None)  # the runner sets it for its kernels
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "out"), str(folder)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=240)
    log = proc.stdout
    assert proc.returncode == 0, log[-3000:]
    assert "\x1b" not in log, f"escape codes in the log: {log!r}"
    assert "\r" not in log, f"carriage-return redraws in the log: {log!r}"
    assert "without encryption" not in log and "WARNING" not in log, log
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), f"duplicated lines: {lines}"
    bar = [line for line in lines if line.startswith("fake work")]
    assert bar and "4/4" in bar[-1], lines  # the library's bar reached the log, ending at its total
    assert sum("notebook says hello" in line for line in lines) == 1  # the notebook's own output, streamed once
    assert lines[0].startswith("[1/1] 01_work (smoke): running") and "done in" in lines[-1]


def test_line_bar_writes_whole_lines_only_when_something_changed(tmp_path: Path) -> None:
    """The log-file bar takes tqdm's calls (``set_postfix(dict, refresh=...)`` as ``RunLog`` makes them)."""
    from stepcoder_lib.settings.progress import LineBar

    path = tmp_path / "log.txt"
    with open(path, "w") as log:
        bar = LineBar(3, "RL", "step", log, interval=0.0)
        bar.set_postfix({"reward": "+0.100"}, refresh=False)
        bar.update(1)
        bar.set_postfix(reward="+0.200")
        bar.update(2)  # reaches the total: written even inside the interval
        bar.close()  # nothing new since the last line: not written again
        bar.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and "\r" not in path.read_text()
    assert "1/3" in lines[0] and "reward=+0.100" in lines[0] and "3/3" in lines[1] and "reward=+0.200" in lines[1]
