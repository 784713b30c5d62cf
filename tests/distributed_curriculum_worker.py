"""Run by tests/test_distributed_curriculum.py under ``accelerate launch --multi_gpu --num_processes 2``.

Each rank holds different rollouts (rank-dependent problems and pass patterns), updates the
curriculum through ``update_distributed`` (gather over gloo), and writes its state_dict to
``<out>/rank<r>.json``. The test compares the files with each other and with a local replay.

On a machine without GPUs, ``accelerate launch --cpu`` starts ONE process whatever
``--num_processes`` says (its simple launcher); the torchrun launcher behind ``--multi_gpu``
starts two, and ``PartialState(cpu=True)`` makes them a gloo (MULTI_CPU) group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from accelerate import PartialState

from stepcoder_lib.executor.verdicts import Verdict
from stepcoder_lib.method.curriculum import Curriculum  # the test puts the checkout on PYTHONPATH
from stepcoder_lib.settings.profiles import CCCSConfig

SOLUTIONS = {pid: "".join(f"if v == {i}:\n    w = {i}\n" for i in range(n)) for pid, n in
             (("a", 9), ("b", 16), ("c", 25))}
CONFIG = CCCSConfig(alpha=0.3, rho_threshold=0.6)
STEPS = 6


def local_batch(rank: int, step: int, cur: Curriculum) -> tuple[list[str], list[Verdict], list[int]]:
    """Rank 0 sees a and b, rank 1 sees c and b; a and c always pass, b passes on rank 1 only, sometimes."""
    ok, wa, re_ = Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR
    ids = ["a", "a", "b", "b"] if rank == 0 else ["c", "c", "b", "b"]
    results = [ok, ok, wa, re_] if rank == 0 else [ok, ok, ok, wa if step % 2 else ok]
    return ids, results, [cur.stage(p) for p in ids]


def main() -> None:
    out = Path(sys.argv[1])
    state = PartialState(cpu=True)
    assert state.num_processes == 2, f"expected 2 processes, got {state.num_processes}"
    cur = Curriculum(SOLUTIONS, CONFIG)
    for step in range(STEPS):
        ids, results, stages = local_batch(state.process_index, step, cur)
        cur.update_distributed(ids, results, stages)
    (out / f"rank{state.process_index}.json").write_text(json.dumps(
        {"world_size": state.num_processes, "backend": str(state.backend), "state": cur.state_dict()}, sort_keys=True))
    state.wait_for_everyone()
    state.destroy_process_group()  # left to exit, gloo's threads can abort a rank


if __name__ == "__main__":
    main()
