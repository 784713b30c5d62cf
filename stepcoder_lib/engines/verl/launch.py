"""``python -m stepcoder_lib.training.train --engine verl``: write a run's data files, then start verl in its own venv.

The project's venv prepares (training split, task prompts, SFT model: the same functions as the
native run); the verl venv (``make verl-venv``) runs ``stepcoder_lib.engines.verl.main``. Nothing
here imports verl, so ``--dry-run`` works anywhere and prints the complete command.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

from stepcoder_lib.engines.verl.data import write_verl_data
from stepcoder_lib.engines.verl.mapping import Launch, format_command, verl_command
from stepcoder_lib.settings.paths import artifacts_dir, repo_root
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.train import (
    build_parser,
    limit_tests,
    parse_set,
    resolve_sft,
    setting_name,
    task_prompt,
    training_problems,
)

#: What the dry run prints for the SFT model when ``--sft`` is not given (resolving it would train one).
SFT_PLACEHOLDER = "SFT_MODEL_DIR"


def verl_run_dir(profile: Any, cccs: bool, fgo: bool, seed: int, out_dir: str | Path | None = None) -> Path:
    """``<out>/<profile>/verl-ppo-<setting>-seed<k>``: verl resumes from its own checkpoints inside."""
    root = Path(out_dir) if out_dir else artifacts_dir() / "runs"
    return (root / profile.name / f"verl-ppo-{setting_name(cccs, fgo)}-seed{seed}").resolve()


def make_launch(profile: Any, *, cccs: bool, fgo: bool, seed: int, sft: str | None, out_dir: str | None,
                nnodes: int, n_gpus_per_node: int, rollout_tp: int) -> Launch:
    run_dir = verl_run_dir(profile, cccs, fgo, seed, out_dir)
    return Launch(sft_path=sft or SFT_PLACEHOLDER, data_dir=str(run_dir / "verl_data"), run_dir=str(run_dir),
                  nnodes=nnodes, n_gpus_per_node=n_gpus_per_node, rollout_tp=rollout_tp,
                  python=str(repo_root() / ".venv-verl" / "bin" / "python"))


def dry_run_text(profile: Any, launch: Launch, *, cccs: bool, fgo: bool, seed: int) -> str:
    """The plan of a verl run: what is prepared where, and the exact command (nothing is loaded or started)."""
    argv = verl_command(profile, launch, cccs=cccs, fgo=fgo, seed=seed)
    return "\n".join([
        f"engine verl (verl==0.9.1, RayPPOTrainer path): PPO with GAE and a critic, vLLM rollouts, FSDP "
        f"(fp32 master weights) on {launch.nnodes} node(s) x {launch.n_gpus_per_node} GPU(s)",
        f"prepares {launch.data_dir}/ (train.parquet, problems.jsonl, task_prompts.json) from profile "
        f"{profile.name}'s training split, then runs:",
        "",
        format_command(argv),
        "",
        *([f"{SFT_PLACEHOLDER}: give --sft (the run itself trains or finds the profile's SFT model, notebook 02)"]
          if launch.sft_path == SFT_PLACEHOLDER else []),
        "several nodes: start Ray first (head: `ray start --head`; others: `ray start --address=<head>:6379`), "
        "then run the command on the head node with the same --nnodes/--gpus-per-node",
    ])


def run_verl(profile: Any, launch: Launch, *, cccs: bool, fgo: bool, seed: int) -> Path:
    """Prepare the data files and run verl to completion (resuming from its last checkpoint); returns the run dir."""
    if not Path(launch.python).exists():
        raise FileNotFoundError(f"{launch.python}: the verl venv is missing; build it with `make verl-venv`")
    problems = [limit_tests(p, profile.rl.max_tests) for p in training_problems(profile)]
    write_verl_data(problems, {p.id: task_prompt(p, profile) for p in problems}, launch.data_dir)
    argv = verl_command(profile, launch, cccs=cccs, fgo=fgo, seed=seed)
    print(format_command(argv), file=sys.stderr)
    subprocess.run(argv, check=True, cwd=str(repo_root()))
    return Path(launch.run_dir)


def main(argv: list[str] | None = None) -> int:
    """``train --engine verl``'s arguments: the dry run's text, or the run itself (training's CLI hands them here)."""
    args = build_parser().parse_args(argv)
    profile = get_profile(args.profile, parse_set(args.set))
    try:
        spec = make_launch(profile, cccs=args.cccs, fgo=args.fgo, seed=args.seed, sft=args.sft, out_dir=args.out,
                           nnodes=args.nnodes, n_gpus_per_node=args.gpus_per_node, rollout_tp=args.rollout_tp)
        if args.dry_run:
            print(dry_run_text(profile, spec, cccs=args.cccs, fgo=args.fgo, seed=args.seed))
            return 0
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.sft is None:
        spec = dataclasses.replace(spec, sft_path=str(resolve_sft(profile)))
    run_dir = run_verl(profile, spec, cccs=args.cccs, fgo=args.fgo, seed=args.seed)
    print(f"run: {run_dir}", file=sys.stderr)
    return 0


__all__ = ["SFT_PLACEHOLDER", "dry_run_text", "main", "make_launch", "run_verl", "verl_run_dir"]


if __name__ == "__main__":
    sys.exit(main())
