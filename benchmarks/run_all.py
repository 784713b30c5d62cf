"""``make bench``: every benchmark, each printing ratios against its reference in the same run."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: bench_rl builds (or reuses) the tiny base and SFT models; bench_generation then samples from the trained base
#: model, which stops at EOS as a policy does (from random weights it samples every row to the token limit).
BENCHES = ["bench_executor", "bench_masking", "bench_rl", "bench_generation"]

if __name__ == "__main__":
    for name in BENCHES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                print(f"({name}: not present)")
                continue
            raise
        module.main()
