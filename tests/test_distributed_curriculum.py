"""Two CPU processes under accelerate: both ranks end with the same curriculum state, built from both."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import distributed_curriculum_worker as worker
import pytest

from stepcoder_lib.method.curriculum import Curriculum

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_ranks_hold_identical_state_from_both_ranks_results(tmp_path: Path) -> None:
    accelerate = Path(sys.executable).with_name("accelerate")
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           str(HERE / "distributed_curriculum_worker.py"), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=HERE.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["world_size"] == r1["world_size"] == 2 and r0["backend"] == "gloo"
    assert r0["state"] == r1["state"]

    # the state is the replay of BOTH ranks' rollouts, rank 0's first, step by step
    replay = Curriculum(worker.SOLUTIONS, worker.CONFIG)
    for step in range(worker.STEPS):
        ids0, res0, st0 = worker.local_batch(0, step, replay)
        ids1, res1, st1 = worker.local_batch(1, step, replay)
        replay.update(ids0 + ids1, res0 + res1, st0 + st1)
    assert r0["state"] == json.loads(json.dumps(replay.state_dict()))

    # and neither rank alone would have produced it
    for rank in (0, 1):
        alone = Curriculum(worker.SOLUTIONS, worker.CONFIG)
        for step in range(worker.STEPS):
            alone.update(*worker.local_batch(rank, step, alone))
        assert alone.state_dict() != replay.state_dict()
    stages = {pid: s["stage"] for pid, s in r0["state"]["problems"].items()}
    start = {pid: Curriculum(worker.SOLUTIONS, worker.CONFIG).stage(pid) for pid in worker.SOLUTIONS}
    assert stages["a"] < start["a"] and stages["c"] < start["c"]  # a only on rank 0, c only on rank 1
