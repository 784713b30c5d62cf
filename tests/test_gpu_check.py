"""``make gpu-check`` must stop at once, saying why, where no CUDA device is visible (as on the CPU CI)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from stepcoder_lib.paths import repo_root


def test_gpu_check_fails_clearly_without_cuda() -> None:
    if torch.cuda.is_available():
        msg = "a CUDA device is visible: the no-GPU refusal cannot be observed here (run make gpu-check instead)"
        print(msg)
        pytest.skip(msg)
    proc = subprocess.run([sys.executable, str(repo_root() / "benchmarks" / "gpu_check.py")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "no CUDA device is visible" in proc.stderr
