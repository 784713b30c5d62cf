"""Where an RL step's time goes, for PPO and GRPO, and what CCCS + FGO add over vanilla RL.

Each row is a real run through ``run_rl`` (the CLI's function) on the ``tiny`` profile's SFT model
(``--sft`` to give another): sampling with the policy, the sandboxed executor judging the
programs (line coverage on with FGO), masks and prompts (CCCS prefixes, token offsets, FGO masks,
curriculum update), and optimisation (scoring with policy, reference and critic, then the updates).
Step 1 warms up (first ``generate`` call, executor workers' caches) and is left out; the
other steps are averaged.

Overhead of CCCS + FGO is measured side by side at equal settings (same model, problems, batch,
seed) as the time the two switches add to the parts they touch (execution with coverage, masks
and prompts) over a vanilla step: ``((exec + masks)_stepcoder - (exec + masks)_vanilla) / step_vanilla``.
Target: under 10%. Generation is reported but left out of the overhead: CCCS changes what is
generated (a prefix leaves less to write), which is the method, not a cost of it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.runlog import read_metrics
from stepcoder_lib.training.train import resolve_sft, run_rl

TARGET = 0.10
PARTS = ("generation", "execution", "masks_prompts", "optimisation")


def step_split(profile_name: str, algo: str, cccs: bool, fgo: bool, sft: Path, out: Path, steps: int,
               overrides: dict) -> dict[str, float]:
    profile = get_profile(profile_name, {**overrides, "rl.steps": steps, "rl.checkpoint_every": 10_000})
    run = run_rl(profile, algo, cccs, fgo, 0, out, sft, force=True)
    m = read_metrics(run).iloc[1:]  # step 1 warms up
    row = {p: float(m[f"time/{p}"].mean()) for p in PARTS}
    row["step"] = float(m["time/step"].mean())
    row["tokens"] = float(m["completion_tokens"].mean())
    row["reward"] = float(m["reward_mean"].mean())
    return row


def main(profile: str = "tiny", sft: str | None = None, steps: int = 3, problems_per_step: int = 4,
         rollouts: int = 8) -> dict[str, float]:
    sft_path = resolve_sft(get_profile(profile), sft)
    overrides = {"rl.problems_per_step": problems_per_step, "rl.rollouts_per_problem": rollouts,
                 "rl.probe_problems": 0}  # the before/after probe is measurement, not a training step
    rows: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rl-") as tmp:
        for algo in ("ppo", "grpo"):
            for name, (cccs, fgo) in (("vanilla", (False, False)), ("stepcoder", (True, True))):
                rows[(algo, name)] = step_split(profile, algo, cccs, fgo, sft_path, Path(tmp), steps, overrides)
    print(f"\n== RL step time split, {profile} profile, {problems_per_step} problems x {rollouts} rollouts per step, "
          f"mean of steps 2..{steps} (s) ==")
    print(f"{'':18s}" + "".join(f"{c:>14s}" for c in (*PARTS, "step", "tokens", "reward")))
    for (algo, name), r in rows.items():
        print(f"{algo + ' ' + name:18s}" + "".join(f"{r[c]:14.2f}" for c in (*PARTS, "step", "tokens", "reward")))
    result = {}
    for algo in ("ppo", "grpo"):
        v, s = rows[(algo, "vanilla")], rows[(algo, "stepcoder")]
        added = (s["execution"] + s["masks_prompts"]) - (v["execution"] + v["masks_prompts"])
        overhead = added / v["step"]
        result[f"{algo}_overhead"] = overhead
        print(f"{algo}: CCCS+FGO add {added:+.2f} s to a {v['step']:.2f} s vanilla step = {overhead:+.1%} "
              f"(target < {TARGET:.0%}): {'MET' if overhead < TARGET else 'NOT MET'}; whole step "
              f"{s['step'] / v['step']:.2f}x vanilla (generation {s['generation'] / max(v['generation'], 1e-9):.2f}x)")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--sft", default=None, help="SFT model folder (default: the profile's cached SFT run)")
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    main(args.profile, args.sft, args.steps)
