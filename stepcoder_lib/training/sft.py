"""The SFT baseline: TRL's ``SFTTrainer`` on (prompt, canonical solution) of the training split.

The SFT model is the RL runs' starting point and their KL reference. Examples are in TRL's
prompt-completion format, so the loss covers the completion (the solution and its EOS) only:
TRL labels the prompt's tokens -100. The schedule is the paper's for ``paper`` (lr 2e-5, 3
epochs, 0.3 epoch of linear warm-up, then linear decay to zero, global batch 64) and the
profile's otherwise. A run is cached by a hash of its inputs (settings, base model, data,
prompt, this module's source) and skipped when they are unchanged.

    path = train_sft(get_profile("tiny"))                 # artifacts/sft/<key>: save_pretrained + sft_log.json
    model, tokenizer = load_policy(path, profile)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepcoder_lib.data.prepare import dataset_key, load_splits
from stepcoder_lib.data.problem import Problem
from stepcoder_lib.models.loading import load_policy, lora_config, resolve_model_path
from stepcoder_lib.models.prompts import build_prompt
from stepcoder_lib.models.tiny import RUN_CONFIG_DIR, base_model_path
from stepcoder_lib.settings.cache import MANIFEST, build_once, input_digest, is_built, library_files
from stepcoder_lib.settings.paths import artifacts_dir
from stepcoder_lib.settings.profiles import save_effective_config
from stepcoder_lib.settings.progress import use_progress_bar

LOG_FILE = "sft_log.json"


@dataclass(frozen=True)
class SFTRunConfig:
    """Everything one SFT run uses, resolved from the profile (``from_profile``); hashed into its cache key."""

    base_model: str  # folder or hub id, as ``load_policy`` takes it
    learning_rate: float
    epochs: float
    warmup_epochs: float
    scheduler: str
    batch_size: int  # global: per device x accumulation x devices
    per_device_batch_size: int
    max_seq_len: int
    weight_decay: float
    gradient_checkpointing: bool
    bf16: bool
    seed: int
    max_steps: int | None = None  # stop early (tests, smoke runs); None: the whole schedule

    @classmethod
    def from_profile(cls, profile: Any, base_model: str | None = None, seed: int | None = None,
                     max_steps: int | None = None, progress: bool = True) -> SFTRunConfig:
        s = profile.sft
        if not 0 <= s.warmup_epochs < s.epochs:
            raise ValueError(f"sft.warmup_epochs ({s.warmup_epochs}) must be in [0, sft.epochs={s.epochs})")
        if s.batch_size % s.per_device_batch_size:
            raise ValueError(f"sft.batch_size ({s.batch_size}) must be a multiple of sft.per_device_batch_size "
                             f"({s.per_device_batch_size})")
        return cls(base_model=base_model or base_model_path(profile, progress=progress),
                   learning_rate=s.learning_rate, epochs=s.epochs, warmup_epochs=s.warmup_epochs,
                   scheduler=s.scheduler, batch_size=s.batch_size,
                   per_device_batch_size=s.per_device_batch_size, max_seq_len=s.max_seq_len,
                   weight_decay=s.weight_decay, gradient_checkpointing=s.gradient_checkpointing,
                   # the profile's precision, never the CPU's: same seed, same numbers on every machine of a kind
                   bf16=profile.model.dtype == "bfloat16",
                   seed=s.seed if seed is None else seed, max_steps=max_steps)

    def trainer_args(self, output_dir: str | Path, progress: bool = True) -> Any:
        """TRL's ``SFTConfig`` for this run (world size from the launcher's ``WORLD_SIZE``)."""
        import torch  # lazy: importing this module needs no torch
        from trl import SFTConfig  # lazy: importing this module needs no trl

        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        accumulation = max(1, self.batch_size // (self.per_device_batch_size * world))
        return SFTConfig(
            output_dir=str(output_dir), learning_rate=self.learning_rate, num_train_epochs=self.epochs,
            max_steps=self.max_steps or -1, lr_scheduler_type=self.scheduler,
            warmup_steps=self.warmup_epochs / self.epochs,  # a float < 1 is a share of all steps: 0.3 / 3 epochs
            per_device_train_batch_size=self.per_device_batch_size, gradient_accumulation_steps=accumulation,
            max_length=self.max_seq_len, weight_decay=self.weight_decay, completion_only_loss=True,
            activation_checkpointing=self.gradient_checkpointing, bf16=self.bf16, seed=self.seed,
            data_seed=self.seed,
            logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=not progress,
            use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
            train_sampling_strategy="group_by_length",  # batches of similar length: little padding on CPU
        )


def sft_examples(problems: list[Problem], profile: Any) -> list[dict[str, str]]:
    """TRL prompt-completion rows: the task prompt, and the canonical solution the model should write."""
    return [{"prompt": build_prompt(p, profile), "completion": p.canonical_solution}
            for p in problems if p.canonical_solution]


def _model_identity(base_model: str) -> str:
    """What the base model is, for the cache key: a built folder's key, a local config's hash, or the hub id."""
    where, local = resolve_model_path(base_model)
    if not local:
        return where
    manifest = Path(where) / MANIFEST
    if manifest.is_file():
        return json.loads(manifest.read_text()).get("key", where)
    return input_digest({}, sorted(p for p in Path(where).glob("*.json")) + sorted(Path(where).glob("*.safetensors")))


def sft_key(profile: Any, run: SFTRunConfig) -> str:
    """Cache key of an SFT run: its settings, base model, data, prompt and this module's source."""
    import transformers  # lazy: importing this module needs no transformers
    import trl  # lazy: importing this module needs no trl

    config = {"run": {**dataclasses.asdict(run), "base_model": _model_identity(run.base_model)},
              "data": dataset_key(profile), "max_train_problems": profile.data.max_train_problems,
              "prompt_template": profile.model.prompt_template, "lora_r": profile.model.lora_r,
              "dtype": profile.model.dtype, "versions": [transformers.__version__, trl.__version__]}
    return f"{profile.name}-{input_digest(config, library_files('training/sft.py', 'models/prompts.py'))}"


def make_sft_trainer(profile: Any, run: SFTRunConfig, output_dir: str | Path, problems: list[Problem] | None = None,
                     progress: bool = True) -> Any:
    """An ``SFTTrainer`` ready to train (the dataset tokenised, prompt tokens labelled -100)."""
    from datasets import Dataset  # lazy: importing this module needs no datasets
    from trl import SFTTrainer  # lazy: importing this module needs no trl

    if problems is None:
        problems = load_splits(profile, progress=progress)["train"]
    rows = sft_examples(problems, profile)
    if not rows:
        raise ValueError(f"profile {profile.name!r}: the training split has no problem with a canonical solution")
    lora = lora_config(profile)
    # full fine-tuning trains fp32 master weights (bf16 compute by autocast: ``bf16`` below); LoRA freezes the
    # base in model.dtype and peft keeps its adapters in fp32
    model, tokenizer = load_policy(run.base_model, profile, trainable=lora is None)
    lengths = [len(ids) for ids in tokenizer([r["prompt"] + r["completion"] for r in rows], add_special_tokens=False,
                                             verbose=False)["input_ids"]]
    kept = [p for p in problems if p.canonical_solution]  # the problems ``rows`` came from, in order
    too_long = [p.id for p, n in zip(kept, lengths, strict=True) if n + 1 > run.max_seq_len]  # + 1: the EOS
    if too_long:
        warnings.warn(f"{len(too_long)} of {len(rows)} SFT examples are longer than sft.max_seq_len="
                      f"{run.max_seq_len} tokens and are cut at its end (e.g. {', '.join(too_long[:3])})", stacklevel=2)
    trainer = SFTTrainer(model=model, args=run.trainer_args(output_dir, progress),
                         train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=lora)
    return use_progress_bar(trainer, f"SFT ({profile.name})", enabled=progress)


def train_sft(profile: Any, out_dir: str | Path | None = None, seed: int | None = None, *,
              base_model: str | None = None, max_steps: int | None = None, force: bool = False,
              progress: bool = True) -> Path:
    """Fine-tune the profile's base model on the training split; returns the ``save_pretrained`` folder.

    ``out_dir`` defaults to ``artifacts_dir()/sft/<key>``; a given folder is reused when it holds a
    finished run with the same key, and rebuilt otherwise. With LoRA the adapters are merged into
    the weights before saving, so every later step loads a plain model.
    """
    run = SFTRunConfig.from_profile(profile, base_model=base_model, seed=seed, max_steps=max_steps, progress=progress)
    key = sft_key(profile, run)
    target = Path(out_dir) if out_dir is not None else artifacts_dir() / "sft" / key
    if is_built(target) and json.loads((target / MANIFEST).read_text()).get("key") != key:
        force = True  # the folder holds a run with other inputs

    def build(tmp: Path) -> None:
        trainer = make_sft_trainer(profile, run, tmp / "trainer", progress=progress)
        result = trainer.train()
        model = trainer.model
        if hasattr(model, "merge_and_unload"):  # peft: fold the adapters into the weights
            model = model.merge_and_unload()
        model.save_pretrained(tmp)
        trainer.processing_class.save_pretrained(tmp)
        save_effective_config(profile, tmp / RUN_CONFIG_DIR, extra={"built": "SFT model", "key": key,
                                                         "sft_run": dataclasses.asdict(run)})
        steps = trainer.state.max_steps
        record = {"log_history": trainer.state.log_history, "metrics": result.metrics, "max_steps": steps,
                  "examples": len(trainer.train_dataset),
                  "epochs_done": steps * run.batch_size / max(1, len(trainer.train_dataset)),
                  "warmup_steps": trainer.args.get_warmup_steps(steps)}
        (tmp / LOG_FILE).write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
        shutil.rmtree(tmp / "trainer", ignore_errors=True)

    return build_once(target, build, force=force,
                      inputs={"key": key, "profile": profile.name, "run": dataclasses.asdict(run)})


def sft_log(path: str | Path) -> Any:
    """The run's per-step log (step, loss, learning_rate, ...) as a DataFrame, for the loss curve."""
    import pandas as pd  # lazy: importing this module needs no pandas

    record = json.loads((Path(path) / LOG_FILE).read_text(encoding="utf-8"))
    rows = [r for r in record["log_history"] if "loss" in r]
    return pd.DataFrame(rows)


def schedule_steps(n_examples: int, run: SFTRunConfig) -> tuple[int, int]:
    """(optimisation steps, warm-up steps) the trainer will take for ``n_examples`` on one device."""
    per_epoch = math.ceil(n_examples / run.batch_size)
    steps = run.max_steps or math.ceil(per_epoch * run.epochs)
    return steps, math.ceil(steps * run.warmup_epochs / run.epochs)
