"""JupyterLab as a user meets it: ``make lab``'s server (stepcoder_lib.settings.lab), its jupytext pairing, and notebook
03's CCCS explorer (ipywidgets) rendered and driven in a real headless Chromium.

Under papermill a widget's front end never loads, so a mismatch between ipywidgets and JupyterLab's widget
manager ("Error displaying widget") or a ``.py`` opened as a text file shows only here. The browser is
Debian's ``chromium`` (installed with apt-get when missing and the machine allows it; Playwright's own browser
download cannot work offline), driven by Playwright. The screenshot is written to ``artifacts/lab/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from papermill.translators import translate_parameters
from playwright.sync_api import expect, sync_playwright

from stepcoder_lib.data.demo import demo_problems
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.settings.lab import lab_argv, lab_env
from stepcoder_lib.settings.paths import artifacts_dir, repo_root
from stepcoder_lib.settings.profiles import get_profile

REPO_ROOT = repo_root()
NOTEBOOK = "03_cccs_ablation"
#: What the browser test runs notebook 03 with: the smoke profile, no training, the synthetic problems (the test
#: rebuilds the same problems here to know what the explorer must show).
PARAMS: dict[str, Any] = {"profile": "smoke", "train": False, "use_realdata": False, "n_problems": 8, "seed": 0}
SCREENSHOT = artifacts_dir() / "lab" / "03_cccs_explorer.png"

pytestmark = pytest.mark.slow


@dataclass
class LabServer:
    """A running JupyterLab: its address, its token, the folder it serves; ``api`` calls its REST API."""

    url: str
    token: str
    root: Path

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"token {self.token}", "Content-Type": "application/json"}
        req = urllib.request.Request(f"{self.url}/api/{path}", data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)


def free_port() -> int:
    """A port free now (the server is told not to fall back to another, so a lost race fails loudly)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_notebook_copy(root: Path) -> None:
    """The checkout's jupytext.toml and notebook 03's .py source, with PARAMS injected as papermill injects them."""
    shutil.copy(REPO_ROOT / "jupytext.toml", root / "jupytext.toml")
    (root / "notebooks").mkdir()
    nb = jupytext.read(REPO_ROOT / "notebooks" / f"{NOTEBOOK}.py")
    [at] = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    source = translate_parameters("python3", "python", {**PARAMS, "out_dir": str(root / "out")}, "Parameters")
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    jupytext.write(nb, root / "notebooks" / f"{NOTEBOOK}.py", fmt="py:percent")
    shutil.copy(REPO_ROOT / "notebooks" / f"{NOTEBOOK}.py", root / "pairing.py")  # the pairing test's own copy


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """``make lab``'s command line (settings.lab.lab_argv) on a temporary root, random port, random token."""
    root = tmp_path_factory.mktemp("lab")
    write_notebook_copy(root)
    # A fresh JupyterLab user: no saved workspace, and no first-run "fetch news?" notification over the page.
    settings = root / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = lab_env({**os.environ, "PYTHONPATH": str(REPO_ROOT), "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "STEPCODER_ARTIFACTS": str(root / "artifacts")})
    port, token = free_port(), os.urandom(16).hex()
    argv = lab_argv(root, ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"])
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, root)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.api("GET", "status")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_tail = (root / "server.log").read_text()[-3000:]
                    pytest.fail(f"JupyterLab did not start (exit code {proc.poll()}):\n{log_tail}")
                time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_py_source_opens_as_a_notebook_and_saving_either_twin_rewrites_the_other(lab: LabServer) -> None:
    py, ipynb = lab.root / "pairing.py", lab.root / "pairing.ipynb"
    model = lab.api("GET", "contents/pairing.py?type=notebook&content=1")
    source = jupytext.read(REPO_ROOT / "notebooks" / f"{NOTEBOOK}.py")
    assert model["type"] == "notebook"
    assert [c["source"] for c in model["content"]["cells"]] == [c.source for c in source.cells]
    assert not ipynb.exists()

    nb = model["content"]
    nb["cells"][0]["source"] += "\n\nSaved from the .py."
    lab.api("PUT", "contents/pairing.py", {"type": "notebook", "format": "json", "content": nb})
    assert "Saved from the .py." in py.read_text()
    assert ipynb.exists(), "saving the .py did not write its paired .ipynb: jupytext.toml not in effect"
    assert "Saved from the .py." in json.loads(ipynb.read_text())["cells"][0]["source"]

    nb = lab.api("GET", "contents/pairing.ipynb?content=1")["content"]
    nb["cells"][0]["source"] += "\n\nSaved from the .ipynb."
    lab.api("PUT", "contents/pairing.ipynb", {"type": "notebook", "format": "json", "content": nb})
    assert "Saved from the .ipynb." in py.read_text()


def system_chromium() -> str:
    """Debian's chromium: on PATH, else installed with apt-get where the machine allows it, else a skip naming why."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    why = None
    if not shutil.which("apt-get"):
        why = "no apt-get here (not Debian/Ubuntu)"
    elif not hasattr(os, "geteuid") or os.geteuid() != 0:
        why = "apt-get needs root (run: sudo apt-get install chromium)"
    else:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300",
                     "chromium"]):
            print("installing the browser:", " ".join(cmd))
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode:
                why = f"`{' '.join(cmd)}` exited {done.returncode}: {done.stderr.strip()[-800:]}"
                break
        else:
            if found := shutil.which("chromium"):
                return found
            why = "apt-get installed chromium but no `chromium` is on PATH"
    msg = f"JupyterLab browser test needs Debian's chromium: {why}"
    print(msg)
    pytest.skip(msg)


def explorer_expectations() -> tuple[str, str, int, int]:
    """The explorer's first problem, a problem with at least 2 stages, its stage count and its start prefix length."""
    prof = get_profile("smoke")
    problems, _ = demo_problems(None, PARAMS["use_realdata"], PARAMS["n_problems"], PARAMS["seed"])
    cur = Curriculum.from_problems(problems, prof.rl.cccs, kinds=("if", "elif"))
    first = sorted(cur.plans)[0]
    staged = [pid for pid in sorted(cur.plans) if cur.plans[pid].n_stages >= 2 and pid != first]
    assert staged, "no problem with 2+ stages among the synthetic ones: change PARAMS"
    target = max(staged, key=lambda pid: (cur.plans[pid].n_stages, pid))
    plan = cur.plans[target]
    return first, target, plan.n_stages, plan.cuts[plan.n_stages - 1]


def test_notebook_03_explorer_renders_and_answers_its_controls_in_chromium(lab: LabServer, capsys) -> None:
    chromium = system_chromium()
    first, target, n_stages, start_prefix = explorer_expectations()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{lab.url}/lab/tree/notebooks/{NOTEBOOK}.py?token={lab.token}")
            # jupytext's lab extension opens the .py source as a notebook (not in the text editor).
            notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
            expect(notebook).to_be_visible(timeout=60_000)
            cell = notebook.locator(".jp-CodeCell").filter(has_text="curriculum_explorer(problems")
            expect(cell).to_have_count(1)
            expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle")).to_have_count(1, timeout=60_000)

            # As a user would: select the explorer cell, Run > Run All Above Selected Cell, then run the cell.
            cell.locator(".jp-InputArea-editor").click()
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.get_by_role("menuitem", name="Run All Above Selected Cell").click()
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")

            pick, outputs = cell.locator(".widget-dropdown select"), cell.locator(".jp-OutputArea-output")
            expect(outputs.first).to_be_attached(timeout=120_000)  # the kernel imports torch first: seconds
            try:
                expect(pick).to_be_visible(timeout=20_000)
            except AssertionError as exc:
                shown = "\n".join(outputs.all_inner_texts())
                raise AssertionError(f"the explorer's controls did not render; its output:\n{shown}") from exc
            expect(page.get_by_text("Error displaying widget")).to_have_count(0)
            view = cell.locator(".widget-html-content")
            prefix = view.locator(".sc-code .sc-prefix")  # the grey canonical prefix, one span per segment
            slider = cell.locator(".widget-slider")
            handle, readout = slider.locator(".noUi-handle"), slider.locator(".widget-readout")
            expect(pick).to_have_value(first)
            shown_first = view.inner_text()

            # The dropdown: another problem, shown at the stage training starts at (the last), its prefix grey.
            pick.select_option(target)
            expect(view).to_contain_text(f"stage {n_stages - 1} of {n_stages}")
            expect(view).to_contain_text(f"prefix {start_prefix} chars")
            assert view.inner_text() != shown_first
            expect(prefix).not_to_have_count(0)
            expect(readout).to_have_text(str(n_stages - 1))
            # The slider, from the keyboard: Home is stage 0 (the whole program, no prefix), then one stage up.
            handle.focus()
            page.keyboard.press("Home")
            expect(view).to_contain_text(f"stage 0 of {n_stages}")
            expect(view).to_contain_text("prefix 0 chars")
            expect(prefix).to_have_count(0)
            expect(readout).to_have_text("0")
            page.keyboard.press("ArrowRight")
            expect(view).to_contain_text(f"stage 1 of {n_stages}")
            expect(prefix).not_to_have_count(0)
            expect(page.get_by_text("Error displaying widget")).to_have_count(0)
            heading = notebook.locator(".jp-MarkdownCell", has_text="Pick a problem and slide")
            heading.evaluate("cell => cell.scrollIntoView({block: 'start'})")  # for the screenshot
        finally:
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
            with capsys.disabled():
                print(f"\nJupyterLab screenshot: {SCREENSHOT}")
            browser.close()
