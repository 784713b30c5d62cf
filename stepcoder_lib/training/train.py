"""Train one RL row of the paper's ablation, headless: ``python -m stepcoder_lib.training.train``.

    python -m stepcoder_lib.training.train --profile tiny --algo ppo --cccs --fgo --seed 0
    python -m stepcoder_lib.training.train --profile paper --algo ppo --cccs --fgo --dry-run  # validate, print the plan
    python -m stepcoder_lib.training.train --engine verl --profile paper --algo ppo --cccs --fgo --nnodes 1 \
        --gpus-per-node 8
    accelerate launch --num_processes 2 -m stepcoder_lib.training.train --profile smoke --algo grpo --cccs

The notebooks call ``run_rl`` (the same function). A run lives in
``<out>/<profile>/<algo>-<setting>-seed<k>-<key>/`` where ``setting`` is vanilla / fgo / cccs /
stepcoder and ``key`` hashes everything the run depends on (effective profile, switches, seed, SFT
model, library sources): a finished run (``done.json``) is returned without training again; an
unfinished one resumes from its last checkpoint. Inside: ``config.json`` (effective config),
``metrics.jsonl``, ``tb/`` (TensorBoard), ``checkpoints/``, ``policy/`` (the trained model,
``save_pretrained`` format), ``curriculum.json`` (final CCCS state) and ``done.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from stepcoder_lib.data.prepare import cap_stratified, load_splits
from stepcoder_lib.data.problem import Problem
from stepcoder_lib.executor import Executor, ExecutorConfig
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.models.encoding import encode
from stepcoder_lib.models.loading import load_policy
from stepcoder_lib.models.plan import plan as model_plan  # the resources; ``plan`` below is the run's
from stepcoder_lib.models.prompts import build_prompt
from stepcoder_lib.settings.cache import MANIFEST
from stepcoder_lib.settings.paths import artifacts_dir, repo_root
from stepcoder_lib.settings.profiles import CCCSConfig, Profile, RLConfig, get_profile, save_effective_config
from stepcoder_lib.training import sft
from stepcoder_lib.training.runlog import RunLog

if TYPE_CHECKING:
    from accelerate import Accelerator
    from transformers import PreTrainedTokenizerBase

    from stepcoder_lib.training.rollout import Sampler

ALGOS: tuple[str, ...] = ("ppo", "grpo")
#: ``rl.engine``: this project's trainers, or PPO on verl (``stepcoder_lib.engines.verl``).
ENGINES: tuple[str, ...] = ("native", "verl")
#: (cccs, fgo) -> the ablation row's name (the paper's Table 1: vanilla, w/o CCCS, w/o FGO, StepCoder).
SETTINGS: dict[tuple[bool, bool], str] = {(False, False): "vanilla", (False, True): "fgo", (True, False): "cccs",
                                          (True, True): "stepcoder"}
#: Library sources whose change makes a cached run stale.
_SOURCES = ("training/rollout.py", "training/ppo.py", "training/grpo.py", "training/train.py", "method/curriculum.py",
            "data/conditionals.py", "method/masking.py", "method/reward.py", "models/generation.py", "executor/*.py")


def setting_name(cccs: bool, fgo: bool) -> str:
    return SETTINGS[(bool(cccs), bool(fgo))]


# ----------------------------------------------------------------------------- data, prompts, models
def training_problems(profile: Profile) -> list[Problem]:
    """The RL problem pool: the training split of the profile's APPS+ (capped by ``data.max_train_problems``),
    then by ``rl.max_problems`` (each difficulty keeping its share), so a short run revisits its problems."""
    return cap_stratified(load_splits(profile)["train"], profile.rl.max_problems)


def task_prompt(problem: Problem, profile: Profile) -> str:
    """The task prompt (stage 0, before any CCCS prefix): the same prompt SFT and evaluation use."""
    return build_prompt(problem, profile)


def resolve_sft(profile: Profile, sft_path: str | Path | None = None) -> Path:
    """The SFT model every RL run starts from and is held to: ``sft_path``, or the profile's cached SFT baseline."""
    if sft_path is not None:
        return Path(sft_path)

    return Path(sft.train_sft(profile))


# ----------------------------------------------------------------------------- runs
def limit_tests(problem: Problem, max_tests: int | None) -> Problem:
    """The problem with at most ``max_tests`` unit tests (the first ones) for RL rollouts."""
    if not max_tests or len(problem.tests) <= max_tests:
        return problem
    t = problem.tests
    tests = dataclasses.replace(t, inputs=t.inputs[:max_tests], outputs=t.outputs[:max_tests] if t.outputs else ())
    return problem.replace(tests=tests)


def run_key(profile: Profile, algo: str, cccs: bool, fgo: bool, seed: int, sft_path: str | Path) -> str:
    """Hash of what a run depends on: the effective profile, algorithm, switches, seed, SFT model and library code."""
    h = hashlib.sha256(json.dumps({"profile": profile.to_dict(), "algo": algo, "cccs": bool(cccs), "fgo": bool(fgo),
                                   "seed": seed, "sft": str(Path(sft_path).resolve())},
                                  sort_keys=True, default=str).encode())
    lib = repo_root() / "stepcoder_lib"
    for pattern in _SOURCES:
        for f in sorted(lib.glob(pattern)):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def run_dir_for(profile: Profile, algo: str, cccs: bool, fgo: bool, seed: int, sft_path: str | Path,
                out_dir: str | Path | None = None) -> Path:
    root = Path(out_dir) if out_dir else artifacts_dir() / "runs"
    key = run_key(profile, algo, cccs, fgo, seed, sft_path)
    return root / profile.name / f"{algo}-{setting_name(cccs, fgo)}-seed{seed}-{key}"


def latest_checkpoint(run_dir: Path, cccs: bool = False) -> Path | None:
    """The newest complete checkpoint: PPO's ``step-N/`` (renamed into place when complete) or TRL's
    ``checkpoint-N/`` with its ``trainer_state.json`` (and, with CCCS, the ``curriculum.json`` written after it)."""
    found = []
    for d in (run_dir / "checkpoints").glob("*"):
        step = d.name.rsplit("-", 1)[-1]
        complete = (d / "trainer.pt").exists() or ((d / "trainer_state.json").exists()
                                                   and (not cccs or (d / "curriculum.json").exists()))
        if step.isdigit() and complete:
            found.append((int(step), d))
    return max(found)[1] if found else None


def checkpoint_step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[-1])


def run_rl(profile: str | Profile, algo: str = "ppo", cccs: bool = True, fgo: bool = True, seed: int = 0,
           out_dir: str | Path | None = None, sft_path: str | Path | None = None, *,
           overrides: dict[str, Any] | None = None, resume: bool = True, force: bool = False,
           problems: Sequence[Problem] | None = None, stop_after: int | None = None, sampler: Any = None) -> Path:
    """Train one RL run from the SFT model and return its run directory (cached: a finished run is not redone).

    ``problems`` replaces the profile's training split; ``sampler`` replaces
    ``generation.sample_completions`` (same signature: another backend, or a scripted policy in tests).
    ``stop_after`` ends the process's work after that many steps, leaving the run unfinished (as a
    killed run would, minus the work since its last checkpoint); calling again resumes it.
    """
    import torch  # lazy: importing this module needs no torch
    from accelerate import Accelerator  # lazy: importing this module needs no accelerate
    from transformers.utils import (
        logging as hf_logging,  # lazy: importing this module needs no transformers
    )

    hf_logging.disable_progress_bar()  # loading/saving shards; the run's own bar shows progress
    if algo not in ALGOS:
        raise ValueError(f"algo {algo!r}: choose one of {ALGOS}")
    profile = get_profile(cast(Any, profile), overrides)  # a name or a Profile
    if profile.rl.engine != "native":
        raise ValueError(f"profile {profile.name}: rl.engine={profile.rl.engine!r} runs outside this process: "
                         "use `python -m stepcoder_lib.training.train --engine verl ...` (its runs are not yet read by "
                         "notebooks 05-06)")
    sft = resolve_sft(profile, sft_path)
    run_dir = run_dir_for(profile, algo, cccs, fgo, seed, sft, out_dir)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    if force and acc.is_main_process and run_dir.exists():
        shutil.rmtree(run_dir)
    acc.wait_for_everyone()
    if (run_dir / "done.json").exists():
        return run_dir
    ckpt = latest_checkpoint(run_dir, cccs) if resume else None
    if acc.is_main_process:
        save_effective_config(profile, run_dir, {"algo": algo, "cccs": cccs, "fgo": fgo, "seed": seed,
                                                 "setting": setting_name(cccs, fgo), "sft_path": str(sft),
                                                 "world_size": acc.num_processes})
    torch.manual_seed(seed)
    rl = profile.rl
    problems = list(problems) if problems is not None else training_problems(profile)
    problems = [limit_tests(p, rl.max_tests) for p in problems]
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    curriculum = make_curriculum(problems, rl.cccs) if cccs else None

    policy, tokenizer = load_policy(sft, profile)
    from stepcoder_lib.models.generation import (
        sample_completions,  # lazy: importing this module needs no torch
    )

    ex_cfg = ExecutorConfig(coverage=fgo, time_limit_s=profile.executor.time_limit_s,
                            memory_limit_mb=profile.executor.memory_limit_mb, workers=profile.executor.workers)
    start = checkpoint_step(ckpt) if ckpt else 0
    t0 = time.perf_counter()
    desc = f"{algo} {setting_name(cccs, fgo)} s{seed}"
    sampler = sampler or sample_completions
    probes = json.loads((run_dir / PROBE_FILE).read_text()) if (run_dir / PROBE_FILE).exists() else {}
    with Executor(ex_cfg) as executor:
        if rl.probe_problems and "start" not in probes:  # the SFT model, before any update
            probes["start"] = probe(policy, tokenizer, problems, prompts, executor, rl, acc, sampler)
            if acc.is_main_process:
                (run_dir / PROBE_FILE).write_text(json.dumps(probes, indent=1, sort_keys=True) + "\n")
        on_step = _validation_hook(policy, tokenizer, profile, executor, acc, run_dir, start, sft)
        log = RunLog(run_dir, rl.steps, start_step=start, desc=desc, enabled=acc.is_main_process)
        try:
            run = RunContext(policy=policy, tokenizer=tokenizer, problems=problems, prompts=prompts, profile=profile,
                             executor=executor, curriculum=curriculum, fgo=fgo, seed=seed, accelerator=acc,
                             run_dir=run_dir, checkpoint=ckpt, log=log, stop_after=stop_after, sampler=sampler,
                             on_step=on_step)
            finished = _train_ppo(run) if algo == "ppo" else _train_grpo(run)
        finally:
            log.close()
        if finished and rl.probe_problems:  # the trained policy (trained in place) on the same problems and seeds
            probes["end"] = probe(policy, tokenizer, problems, prompts, executor, rl, acc, sampler)
            if curriculum is not None:  # and both, on the tasks CCCS trained on last (its final stages)
                start_model, _ = load_policy(sft, profile, trainable=False)
                probes["start_staged"] = probe(start_model, tokenizer, problems, prompts, executor, rl, acc, sampler,
                                               curriculum=curriculum)
                probes["end_staged"] = probe(policy, tokenizer, problems, prompts, executor, rl, acc, sampler,
                                             curriculum=curriculum)
                del start_model
            if acc.is_main_process:
                (run_dir / PROBE_FILE).write_text(json.dumps(probes, indent=1, sort_keys=True) + "\n")
    acc.wait_for_everyone()
    digests = _gather_digests(curriculum, acc)
    if len(set(digests)) > 1:
        raise RuntimeError(f"run {run_dir.name}: the curriculum state differs between ranks ({digests}); "
                           "every rank must apply the same gathered rollouts")
    if finished and acc.is_main_process:
        if curriculum is not None:
            curriculum.save(run_dir / "curriculum.json")
        tokenizer.save_pretrained(str(run_dir / "policy"))
        (run_dir / "done.json").write_text(json.dumps({
            "algo": algo, "setting": setting_name(cccs, fgo), "cccs": cccs, "fgo": fgo, "seed": seed,
            "profile": profile.name, "steps": rl.steps, "resumed_from": start, "wall_s_last_session":
            time.perf_counter() - t0, "sft_path": str(sft), "world_size": acc.num_processes,
            "curriculum_sha256_per_rank": digests, "probe": probes}, indent=1, sort_keys=True) + "\n")
    acc.wait_for_everyone()
    return run_dir


def _validation_hook(policy: Any, tokenizer: PreTrainedTokenizerBase, profile: Profile, executor: Executor,
                     acc: Accelerator, run_dir: Path, start: int, sft_path: str | Path) -> Callable[[int], None]:
    """``on_step(step)``: held-out pass@1 of the policy when ``rl.validation_every`` says so (``validation.py``).

    Measured on the main process (the others wait); step 0, the SFT model, is measured now (once per
    SFT model: shared by every run from it)."""
    from stepcoder_lib.training import validation as val  # lazy: importing this module needs no torch

    rl = profile.rl
    if rl.validation_every <= 0:
        return lambda step: None
    problems = val.validation_set(profile)
    vlog = val.ValidationLog(run_dir, start, enabled=acc.is_main_process)
    model = acc.unwrap_model(policy)
    if start == 0 and acc.is_main_process and 0 not in vlog.steps():
        vlog.write(val.sft_validation(model, tokenizer, problems, profile, executor, sft_identity(sft_path),
                                      run_dir.parent))
    acc.wait_for_everyone()

    def on_step(step: int) -> None:
        if not val.due(step, rl.validation_every, rl.steps):
            return
        if acc.is_main_process and step not in vlog.steps():
            vlog.write(val.validate(model, tokenizer, problems, profile, executor, step))
        acc.wait_for_everyone()

    return on_step


def sft_identity(sft_path: str | Path) -> str:
    """What the SFT model is, for caches: its build key when it has one, else its resolved path."""
    manifest = Path(sft_path) / MANIFEST
    if manifest.is_file():
        return str(json.loads(manifest.read_text()).get("key", Path(sft_path).resolve()))
    return str(Path(sft_path).resolve())


#: Before/after training rewards on a fixed set of training problems (``rl.probe_problems``).
PROBE_FILE = "probe.json"


def probe(model: Any, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem], prompts: dict[str, str],
          executor: Executor, rl: RLConfig, acc: Any, sampler: Sampler,
          curriculum: Curriculum | None = None) -> dict[str, Any]:
    """The policy's whole-program reward on a fixed sample of training problems (``rl.probe_samples``
    completions each), decoded as in training.

    CCCS and FGO play no part (every setting is measured on the same plain tasks), the problems and
    the sampling seed are the same for every run, so a run's start (the SFT model) and end compare
    directly, and so do runs of different settings. Given a ``curriculum``, the tasks are instead
    each problem's CCCS task at the curriculum's current stage (prefix + completion, what a CCCS run
    trains on), judged on a copy: the run's own curriculum state is left as it is. A collective when
    distributed (each rank takes a share).
    """
    from stepcoder_lib.training.rollout import (  # lazy: importing this module needs no torch
        SamplingSettings,
        StagePrompts,
        collect_rollouts,
        step_metrics,
    )

    chosen = sorted(problems, key=lambda p: p.id)
    random.Random("stepcoder-probe").shuffle(chosen)
    chosen = chosen[: rl.probe_problems]
    mine = [p for p in chosen[acc.process_index::acc.num_processes] for _ in range(rl.probe_samples)]
    was_training = model.training
    model.eval()
    judged_on = copy.deepcopy(curriculum)
    rb = collect_rollouts(model, tokenizer, mine, StagePrompts(tokenizer, prompts, judged_on), executor=executor,
                          sampling=SamplingSettings(rl.temperature, rl.top_p, rl.max_new_tokens,
                                                    rl.generation_batch_size),
                          curriculum=judged_on, fgo=False, seed=7919 + acc.process_index,
                          sampler=sampler)
    model.train(was_training)
    m = step_metrics(rb.summaries, None, False)
    keep = ("reward_mean", "pass_rate", "rollouts", "completion_tokens")
    return {k: v for k, v in m.items() if k in keep or k.startswith(("verdict/", "pass_rate/", "reward/"))}


def _gather_digests(curriculum: Any, acc: Any) -> list[str | None]:
    """Every rank's curriculum state, hashed (rank order): they must agree."""
    from accelerate.utils import gather_object  # lazy: importing this module needs no accelerate

    digest = None
    if curriculum is not None:
        digest = hashlib.sha256(json.dumps(curriculum.state_dict(), sort_keys=True).encode()).hexdigest()
    return list(gather_object([digest])) if acc.num_processes > 1 else [digest]


def make_curriculum(problems: Sequence[Problem], cccs: CCCSConfig) -> Curriculum:
    """CCCS over the training problems, with each problem's stored conditional statements when it has them."""
    cur = Curriculum(config=cccs)
    for p in problems:
        if not p.canonical_solution:
            raise ValueError(f"problem {p.id}: field 'canonical_solution' is empty (CCCS needs it)")
        cur.add(p.id, p.canonical_solution, p.conditional_statements() or None)
    return cur


@dataclass(frozen=True)
class RunContext:
    """What one run's training loop needs, built once in ``run_rl`` (in place of 15 positional parameters)."""

    policy: Any  # the SFT model with fp32 master weights (``load_policy(..., trainable=True)``), trained in place
    tokenizer: PreTrainedTokenizerBase
    problems: list[Problem]  # the RL pool, each with at most ``rl.max_tests`` tests
    prompts: dict[str, str]  # the task prompt (stage 0) by problem id
    profile: Profile
    executor: Executor  # coverage on when FGO is
    curriculum: Curriculum | None  # None: CCCS off
    fgo: bool
    seed: int
    accelerator: Accelerator
    run_dir: Path
    checkpoint: Path | None  # resume from here (None: from the start)
    log: RunLog
    stop_after: int | None  # end this process's work after that many steps, leaving the run unfinished
    sampler: Sampler
    on_step: Callable[[int], None]  # after each optimisation step (held-out pass@1 when it is due)


def _train_ppo(run: RunContext) -> bool:
    """PPO until ``rl.steps`` (True) or ``stop_after`` (False): checkpoints, then the trained policy."""
    from stepcoder_lib.training.ppo import PPOTrainer  # lazy: importing this module needs no torch

    rl, acc, checkpoints = run.profile.rl, run.accelerator, run.run_dir / "checkpoints"
    trainer = PPOTrainer(run.policy, run.tokenizer, run.problems, run.prompts, rl, executor=run.executor,
                         curriculum=run.curriculum, fgo=run.fgo, seed=run.seed, accelerator=acc, sampler=run.sampler,
                         compute_dtype=run.profile.model.dtype)
    if run.checkpoint is not None:
        trainer.load(run.checkpoint)
    done_here = 0
    while trainer.step < rl.steps:
        if run.stop_after is not None and done_here >= run.stop_after:
            return False
        metrics, _ = trainer.train_step()
        run.log.log(trainer.step, metrics)
        run.on_step(trainer.step)
        done_here += 1
        if trainer.step % rl.checkpoint_every == 0 or trainer.step == rl.steps:
            trainer.save(checkpoints / f"step-{trainer.step:06d}")
            acc.wait_for_everyone()
            if acc.is_main_process:  # only the newest is needed to resume (TRL's save_total_limit=1 for GRPO)
                for old in checkpoints.glob("step-*"):
                    if old.name != f"step-{trainer.step:06d}":
                        shutil.rmtree(old, ignore_errors=True)
    if acc.is_main_process:
        acc.unwrap_model(trainer.policy).save_pretrained(str(run.run_dir / "policy"))
    return True


def _train_grpo(run: RunContext) -> bool:
    """GRPO through TRL until ``rl.steps`` (True) or ``stop_after`` (False); TRL checkpoints, then the policy."""
    from transformers import TrainerCallback  # lazy: importing this module needs no transformers

    from stepcoder_lib.training.grpo import (
        make_trainer,  # lazy: importing this module needs no torch
    )

    ckpt = run.checkpoint
    if ckpt is not None and run.curriculum is not None:
        run.curriculum.load(ckpt / "curriculum.json")
    trainer, _ = make_trainer(run.policy, run.tokenizer, run.problems, run.prompts, run.profile.rl,
                              executor=run.executor, curriculum=run.curriculum, fgo=run.fgo, seed=run.seed,
                              output_dir=run.run_dir / "checkpoints", runlog=run.log, sampler=run.sampler,
                              compute_dtype=run.profile.model.dtype)
    if run.stop_after is not None:
        last = (checkpoint_step(ckpt) if ckpt else 0) + run.stop_after

        class _Stop(TrainerCallback):
            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if state.global_step >= last:
                    control.should_training_stop = True

        trainer.add_callback(_Stop())

    class _Validate(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            run.on_step(state.global_step)

    trainer.add_callback(_Validate())
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    if trainer.state.global_step < run.profile.rl.steps:
        return False
    trainer.save_model(str(run.run_dir / "policy"))
    return True


def run_ablation(profile: str | Profile, algos: Sequence[str], settings: Sequence[str],
                 seeds: Sequence[int] | None = None, out_dir: str | Path | None = None,
                 sft_path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> list[Path]:
    """``run_rl`` for every algorithm x setting (vanilla / fgo / cccs / stepcoder) x seed; cached runs are reused."""
    by_name = {name: switches for switches, name in SETTINGS.items()}
    unknown = [s for s in settings if s not in by_name]
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}: choose from {list(by_name)}")
    prof = get_profile(cast(Any, profile), overrides)  # a name or a Profile
    return [run_rl(prof, algo, *by_name[s], seed, out_dir, sft_path)
            for algo in algos for s in settings for seed in (seeds if seeds is not None else prof.rl.seeds)]


# ----------------------------------------------------------------------------- discovery and plans
def find_runs(out_dir: str | Path | None = None, profile: str | None = None) -> Any:
    """Finished runs under ``out_dir`` as a DataFrame (profile, algo, setting, seed, path): what notebook 06 loads."""
    import pandas as pd  # lazy: importing this module needs no pandas

    root = Path(out_dir) if out_dir else artifacts_dir() / "runs"
    rows = []
    for done in sorted(root.glob(f"{profile or '*'}/*/done.json")):
        rec = json.loads(done.read_text())
        rows.append({"profile": rec["profile"], "algo": rec["algo"], "setting": rec["setting"], "seed": rec["seed"],
                     "path": str(done.parent)})
    return pd.DataFrame(rows, columns=["profile", "algo", "setting", "seed", "path"])


def plan(profile: Profile, algo: str, cccs: bool, fgo: bool, world_size: int = 1) -> str:
    """The RL side of a run's plan (``models.plan.plan``: hardware, parameters, memory): batches, steps, decoding."""
    rl = profile.rl
    per_step = rl.problems_per_step * rl.rollouts_per_problem
    lines = [
        f"profile {profile.name}: {profile.description}",
        (f"algorithm {algo}, setting {setting_name(cccs, fgo)} (CCCS {'on' if cccs else 'off'}, "
         f"FGO {'on' if fgo else 'off'})"),
        f"model {profile.model.base} ({profile.model.dtype}), data {profile.data.source}",
        (f"steps {rl.steps}: {rl.problems_per_step} problems x {rl.rollouts_per_problem} rollouts = {per_step} "
         f"completions per step ({per_step // max(1, world_size)} per rank on {world_size}), "
         f"{rl.steps * per_step} in all"),
        f"decoding T {rl.temperature}, top-p {rl.top_p}, at most {rl.max_new_tokens} new tokens",
        (f"policy lr {rl.policy_lr:g}" + (f", critic lr {rl.ppo.critic_lr:g}" if algo == "ppo" else "")
         + f", KL beta {rl.kl_beta:g}"
         + (f" (per-token log-ratio clipped at {rl.ppo.kl_clip:g})" if algo == "ppo" else "")),
        f"checkpoints every {rl.checkpoint_every} steps",
    ]
    if rl.problems_per_step % max(1, world_size):
        raise ValueError(f"rl.problems_per_step={rl.problems_per_step} is not divisible by {world_size} processes")
    return "\n".join(lines)


def pd_wide() -> Any:
    """pandas display options for printing a whole table in a terminal."""
    import pandas as pd  # lazy: importing this module needs no pandas

    return pd.option_context("display.width", 200, "display.max_colwidth", 80, "display.max_rows", 200)


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE, e.g. rl.steps=3")
        key, raw = item.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def build_parser() -> argparse.ArgumentParser:
    """The training CLI's arguments (``--engine verl`` hands the same arguments to the verl engine)."""
    ap = argparse.ArgumentParser(prog="python -m stepcoder_lib.training.train", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--algo", choices=ALGOS, default="ppo")
    ap.add_argument("--cccs", action=argparse.BooleanOptionalAction, default=False, help="curriculum (CCCS) on")
    ap.add_argument("--fgo", action=argparse.BooleanOptionalAction, default=False, help="executed-token mask (FGO) on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="profile override, e.g. rl.steps=3")
    ap.add_argument("--sft", default=None, help="SFT model folder (default: the profile's cached SFT run)")
    ap.add_argument("--out", default=None, help="runs folder (default: artifacts/runs)")
    ap.add_argument("--no-resume", dest="resume", action="store_false", help="start over instead of resuming")
    ap.add_argument("--force", action="store_true", help="delete a finished or partial run with the same key first")
    ap.add_argument("--dry-run", action="store_true", help="validate the profile and print the plan; load nothing")
    ap.add_argument("--engine", choices=ENGINES, default=None, help="default: the profile's rl.engine")
    ap.add_argument("--nnodes", type=int, default=1, help="verl: nodes (trainer.nnodes)")
    ap.add_argument("--gpus-per-node", type=int, default=8, help="verl: GPUs per node (trainer.n_gpus_per_node)")
    ap.add_argument("--rollout-tp", type=int, default=1, help="verl: vLLM tensor parallelism per replica")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        profile = get_profile(args.profile, parse_set(args.set))
    except KeyError as exc:
        raise SystemExit(f"error: {exc.args[0]}") from None
    engine = args.engine or profile.rl.engine
    if engine not in ENGINES:
        raise SystemExit(f"error: rl.engine={engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "verl":
        if args.algo != "ppo":
            raise SystemExit("error: --engine verl runs PPO; GRPO at scale is TRL's (rl.grpo.vllm_mode, see the "
                             "README)")
        # handed to the engine in a process of its own: engines sit above training, nothing here imports them
        return subprocess.call([sys.executable, "-m", "stepcoder_lib.engines.verl.launch", *argv])
    if args.dry_run:
        with pd_wide():
            print(model_plan(profile).to_string(index=False))
        print()
        print(plan(profile, args.algo, args.cccs, args.fgo, int(os.environ.get("WORLD_SIZE", "1"))))
        return 0
    try:
        run_dir = run_rl(profile, args.algo, args.cccs, args.fgo, args.seed, args.out, args.sft, resume=args.resume,
                         force=args.force)
    finally:  # a gloo/NCCL group left to the interpreter's exit can abort a rank ("terminate called ...")
        _end_process_group()
    print(f"run: {run_dir}", file=sys.stderr)
    return 0


def _end_process_group() -> None:
    """Tear down the process group a multi-rank run made; once per process, after its last run."""
    import torch.distributed as dist  # lazy: importing this module needs no torch

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def starting_stage_check(model: Any, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                         profile: Profile, executor: Executor, *,
                         n_problems: int = 120, samples: int = 4, seed: int = 0) -> Any:
    """How hard the curriculum's first task is for ``model``, against the whole program, on the same problems.

    Problems with a stage beyond 0 (the first ``n_problems`` in id order), ``samples`` completions each at
    the rollout decoding, three prompts: the whole program (stage 0); the starting stage with the text
    cut at the conditional and tokenised alone (what CCCS fed before prompts were token-aligned); the
    starting stage token-aligned (``encoding.aligned_prefix``, what training feeds). Returns one row per
    prompt: mean reward, pass and compile-error shares, with the rollouts behind them.
    """
    import pandas as pd  # lazy: importing this module needs no pandas

    from stepcoder_lib.models.generation import (
        sample_completions,  # lazy: importing this module needs no torch
    )
    from stepcoder_lib.training.rollout import (  # lazy: importing this module needs no torch
        StagedPrompt,
        StagePrompts,
        judge_rollouts,
    )

    rl = profile.rl
    cur = make_curriculum(problems, rl.cccs)
    chosen = sorted((p for p in problems if cur.stage(p.id) > 0), key=lambda p: p.id)[:n_problems]
    tasks = {p.id: task_prompt(p, profile) for p in chosen}
    aligned = StagePrompts(tokenizer, tasks, cur)

    def text_cut(pid: str) -> StagedPrompt:
        prefix = cur.prefix_for(pid)
        return StagedPrompt(pid, cur.stage(pid), tuple(encode(tokenizer, tasks[pid] + prefix)), prefix)

    variants = {"whole program (stage 0)": [aligned.at(p.id, 0) for p in chosen],
                "starting stage, text cut tokenised alone": [text_cut(p.id) for p in chosen],
                "starting stage, token-aligned (training)": aligned([p.id for p in chosen])}
    rows = []
    for name, staged in variants.items():
        out = sample_completions(model, tokenizer, [s.prompt_ids for s in staged], n=samples,
                                 temperature=rl.temperature, top_p=rl.top_p, max_new_tokens=rl.max_new_tokens,
                                 seed=seed, batch_size=rl.generation_batch_size)
        eos = tokenizer.eos_token_id
        flat = [(p, s, c) for p, s, cs in zip(chosen, staged, out) for c in cs]
        rollouts, _ = judge_rollouts(tokenizer, [p for p, _, _ in flat], [s for _, s, _ in flat],
                                     [tuple(c.token_ids) + ((eos,) if c.finished else ()) for _, _, c in flat],
                                     [c.finished for _, _, c in flat], executor=executor, fgo=False)
        n = len(rollouts)
        rows.append({"prompt": name, "problems": len(chosen), "rollouts": n,
                     "mean reward": sum(r.reward for r in rollouts) / n,
                     "pass": sum(r.verdict.value == "passed" for r in rollouts) / n,
                     "compile error": sum(r.verdict.value == "compile_error" for r in rollouts) / n,
                     "prefix share": sum(len(s.prefix) / max(1, len(p.canonical_solution or ""))
                                         for p, s, _ in flat) / n})
    return pd.DataFrame(rows).set_index("prompt")


if __name__ == "__main__":
    sys.exit(main())
