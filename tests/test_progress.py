"""The progress bar reaches the terminal when papermill runs a notebook, and the notebook too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from stepcoder_lib.settings.paths import repo_root
from stepcoder_lib.settings.progress import TERMINAL_ENV, progress


def test_plain_iteration_counts_every_item() -> None:
    bar = progress(range(5), desc="t", enabled=False)
    assert list(bar) == [0, 1, 2, 3, 4]


def _run_papermill(tmp_path: Path, terminal: bool) -> tuple[str, nbformat.NotebookNode]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from stepcoder_lib.settings.progress import progress\n"
                                          "total = sum(progress(range(7), desc='unit-test-bar'))\nprint(total)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tmp_path.mkdir(parents=True, exist_ok=True)
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, str(src))
    env = {**os.environ, "PYTHONPATH": str(repo_root()), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env[TERMINAL_ENV] = "1" if terminal else "0"
    proc = subprocess.run([sys.executable, "-m", "papermill", str(src), str(out), "-k", "python3", "--no-progress-bar"],
                          capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr, nbformat.read(str(out), as_version=4)


def test_bar_draws_in_the_terminal_under_papermill_unless_turned_off(tmp_path: Path) -> None:
    stderr, nb = _run_papermill(tmp_path / "on", terminal=True)
    assert "unit-test-bar" in stderr and "7/7" in stderr
    assert "21" in str(nb.cells[0].outputs)
    stderr, _ = _run_papermill(tmp_path / "off", terminal=False)
    assert "unit-test-bar" not in stderr


def test_trainer_gets_one_progress_bar_in_place_of_transformers_callbacks(tmp_path: Path) -> None:
    """transformers' notebook callback re-renders a table of every log (quadratic under papermill): it is replaced."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    from stepcoder_lib.settings.progress import ProgressBarCallback, use_progress_bar

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    data = [{"input_ids": [1, 2, 3, 4], "labels": [1, 2, 3, 4]} for _ in range(8)]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=2, logging_steps=1,
                             report_to="none", save_strategy="no", use_cpu=True)
    trainer = Trainer(model=model, args=args, train_dataset=data)
    trainer.add_callback(NotebookProgressCallback)  # what a Jupyter kernel gets instead of ProgressCallback
    trainer.add_callback(PrinterCallback)
    use_progress_bar(trainer, "test")
    kinds = [type(c) for c in trainer.callback_handler.callbacks]
    assert ProgressBarCallback in kinds
    assert not {ProgressCallback, NotebookProgressCallback, PrinterCallback} & set(kinds)
    trainer.train()
    bar = next(c for c in trainer.callback_handler.callbacks if isinstance(c, ProgressBarCallback))
    assert bar.done == 3 and bar.bar is None  # counted every step, closed at the end
    use_progress_bar(trainer, "off", enabled=False)
    assert sum(isinstance(c, ProgressBarCallback) for c in trainer.callback_handler.callbacks) == 1
