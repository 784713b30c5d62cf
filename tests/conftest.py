"""Shared fixtures: the repo root, the real-data folder, and executors with test-sized limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepcoder_lib import paths
from stepcoder_lib.executor import Executor, ExecutorConfig

REPO_ROOT = paths.repo_root()
#: tests/verl needs the verl venv (``make test-verl``: verl==0.9.1 pins transformers below this project's pin).
collect_ignore = ["verl"]


def realdata_dir() -> Path | None:
    """``../shared/realdata`` beside the repo (or $STEPCODER_REALDATA), None when absent."""
    path = paths.realdata_dir()
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def realdata() -> Path:
    path = realdata_dir()
    if path is None:
        msg = "../shared/realdata is absent (set STEPCODER_REALDATA to a copy): skipping real-data checks"
        print(msg)
        pytest.skip(msg)
    return path


#: Limits small enough that hostile programs fail fast, large enough for honest ones.
TEST_LIMITS = {"workers": 2, "time_limit_s": 1.0, "memory_limit_mb": 512, "output_limit_mb": 2}


@pytest.fixture(scope="session")
def executor() -> Executor:
    with Executor(ExecutorConfig(**TEST_LIMITS)) as ex:
        yield ex


@pytest.fixture(scope="session")
def cov_executor() -> Executor:
    with Executor(ExecutorConfig(**TEST_LIMITS, coverage=True)) as ex:
        yield ex
