"""tests/verl runs in the verl venv only (``make test-verl``); the main suite ignores it (tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # verl_harness
