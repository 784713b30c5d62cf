# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · The SFT baseline: the RL runs' starting point and KL reference
#
# The model every RL row of the paper starts from. For `tiny`: a byte-level BPE tokenizer and a small Llama
# (transformers' `LlamaForCausalLM`) pretrained here on Python source, then supervised fine-tuning with TRL's
# `SFTTrainer` on (prompt, canonical solution) pairs of the training split, the loss on the solution only. The
# paper's SFT schedule (lr 2e-5, 3 epochs, 0.3 epoch warm-up, linear decay, global batch 64) is the `paper`
# profile's; `tiny` keeps its shape with the learning rate a 4M-parameter model needs. Then the loss curve,
# validation pass@1 before and after SFT (temperature 0.2, top-p 0.95) and a few completions.
#
# *Needs* the profile's APPS+ (01; built here through the same cached step if missing); for `small`/`paper`
# the base model's weights · *writes* `out_dir` (effective config, `validation_pass_at_1.csv`/`.png`,
# `sft_loss.png`); models cached by a hash of their inputs · *takes* about 10 minutes for `tiny` the first
# time on 2 cores (seconds on a rerun), under a minute for `smoke`.

# %% tags=["parameters"]
profile = "tiny"  # smoke | tiny | small | paper (stepcoder_lib.settings.profiles)
overrides = {}  # dotted profile overrides, e.g. {"sft.epochs": 1}; unknown keys are an error
seed = 0  # SFT data order and initialisation of the run; evaluation sampling
eval_problems = 150  # validation problems evaluated (each difficulty keeps its share); None: the profile's cap
eval_samples = 2  # completions per problem for pass@1 (None: the profile's eval.n_samples)
n_show = 3  # sample completions shown
force = False  # rebuild the base model and the SFT model even when cached
out_dir = None  # where this run's config, tables and figures go; None: artifacts/runs/02_sft_baseline/<profile>

# %%
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from stepcoder_lib.data.prepare import cap_stratified, load_splits, prepare_apps_plus
from stepcoder_lib.models.calibration import pass_at_1
from stepcoder_lib.models.loading import load_policy
from stepcoder_lib.models.plan import plan
from stepcoder_lib.models.prompts import build_prompt
from stepcoder_lib.models.tiny import base_model_path
from stepcoder_lib.settings.chapters import show_source, what_we_saw
from stepcoder_lib.settings.paths import artifacts_dir
from stepcoder_lib.settings.profiles import get_profile, save_effective_config
from stepcoder_lib.training.sft import SFTRunConfig, sft_examples, sft_log, train_sft

cfg = get_profile(profile, overrides)
run_dir = Path(out_dir) if out_dir else artifacts_dir() / "runs" / "02_sft_baseline" / cfg.name
run_dir.mkdir(parents=True, exist_ok=True)
timings: dict[str, float] = {}
print(f"profile {cfg.name!r}: {cfg.description}")

# %% [markdown]
# ## The plan
# What the profile will train, laid out without loading any weights (the same table
# `python -m stepcoder_lib.training.train --dry-run` prints): model size, a memory estimate for SFT and PPO
# (policy, frozen reference, critic, AdamW state), batch sizes and steps.

# %%
display(plan(cfg))

# %% [markdown]
# ## The data
# APPS+ for this profile, built once and cached under `artifacts/apps_plus/<key>` (the key hashes the
# source, the cleaning settings and the library code that generates, cleans and judges problems).

# %%
t0 = time.perf_counter()
apps_plus = prepare_apps_plus(cfg)
splits = load_splits(cfg)
timings["data"] = time.perf_counter() - t0
counts = pd.DataFrame({name: pd.Series([p.difficulty for p in ps]).value_counts() for name, ps in splits.items()})
counts = counts.reindex(["introductory", "interview", "competition"]).fillna(0).astype(int)
counts.loc["total"] = counts.sum()
print(f"APPS+: {apps_plus}")
display(counts)

# %% [markdown]
# ## The base model
# For `tiny`/`smoke`: the tokenizer and Llama trained here (cached under `artifacts/models/<key>`).
# The pretraining corpus is mostly the training split's prompts followed by their solutions, so the
# base model already knows the format; a share of the blocks is standard-library source.

# %%
t0 = time.perf_counter()
base_path = base_model_path(cfg, force=force)
timings["base model"] = time.perf_counter() - t0
print(f"base model: {base_path} ({timings['base model']:.0f} s this run)")
pretrain_log = Path(base_path) / "pretrain_log.json"
if pretrain_log.exists():
    record = json.loads(pretrain_log.read_text())
    pre = pd.DataFrame([r for r in record["log_history"] if "loss" in r])
    print(f"{record['n_parameters'] / 1e6:.2f}M parameters, pretrained in {record['train_runtime_s']:.0f} s")

# %% [markdown]
# ## Supervised fine-tuning
# TRL's `SFTTrainer` on prompt-completion rows: the prompt is `build_prompt(problem, profile)` (the
# profile's template around the statement, the starter code after it), the completion is the
# canonical solution followed by EOS. For a batch of pairs $(x_i, y_i)$ the loss is the negative
# log-likelihood of the solution tokens only, averaged over them:
#
# $$\mathcal{L}_{\text{SFT}}(\theta) = -\frac{1}{\sum_i |y_i|} \sum_i \sum_{t=1}^{|y_i|}
#   \log \pi_\theta\big(y_{i,t} \mid x_i, y_{i,<t}\big).$$
#
# The prompt $x_i$ is context, never a target: TRL labels its tokens -100 (`completion_only_loss=True`).
# Where that is configured: the rows `sft_examples` builds, and the `SFTConfig` `SFTRunConfig.trainer_args`
# returns (the schedule, the global batch as per-device batch x accumulation, the loss on completions).

# %%
display(show_source(sft_examples, SFTRunConfig.trainer_args))

# %% [markdown]
# Cached under `artifacts/sft/<key>`: a rerun with the same inputs is skipped.

# %%
t0 = time.perf_counter()
run = SFTRunConfig.from_profile(cfg, base_model=base_path, seed=seed)
sft_path = train_sft(cfg, seed=seed, base_model=base_path, force=force)
timings["SFT"] = time.perf_counter() - t0
print(f"SFT model: {sft_path} ({timings['SFT']:.0f} s this run)")
log = sft_log(sft_path)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
if pretrain_log.exists():
    axes[0].plot(pre["step"], pre["loss"], label="pretraining (all tokens)", color="tab:gray")
axes[0].plot(log["step"], log["loss"], label="SFT (solution tokens)", color="tab:blue")
axes[0].set(xlabel="optimisation step", ylabel="cross-entropy", title="training loss", yscale="log")
axes[0].legend()
axes[1].plot(log["step"], log["learning_rate"], color="tab:orange")
axes[1].set(xlabel="optimisation step", ylabel="learning rate",
            title=f"SFT schedule: {run.warmup_epochs:g} epoch warm-up, {run.scheduler} decay")
fig.tight_layout()
fig.savefig(run_dir / "sft_loss.png", dpi=120)
plt.show()

# %% [markdown]
# ## Validation pass@1, before and after SFT
# Each problem gets `eval_samples` completions at the paper's evaluation decoding (temperature 0.2,
# top-p 0.95); each completion is the whole program, run against the problem's unit tests in the
# sandboxed executor. pass@1 is the share of passing samples. The full evaluation (pass@k, the test
# split, failure breakdown) is notebook 06's.

# %%
val = cap_stratified(splits["validation"], eval_problems or cfg.data.max_eval_problems)
n_samples = eval_samples or cfg.eval.n_samples
tables, details = {}, {}
t0 = time.perf_counter()
for name, path in (("base", base_path), ("SFT", str(sft_path))):
    model, tokenizer = load_policy(path, cfg, trainable=False)
    tables[name], details[name] = pass_at_1(model, tokenizer, val, cfg, n_samples=n_samples, seed=seed,
                                            progress=True)
    print(f"{name}: {details[name]['tokens']} tokens sampled at {details[name]['tokens_per_s']:.0f} tokens/s, "
          f"judged in {details[name]['judge_s']:.0f} s")
timings["evaluation"] = time.perf_counter() - t0
result = pd.DataFrame({name: t["pass@1"] for name, t in tables.items()})
result["problems"] = tables["SFT"]["problems"]
result.to_csv(run_dir / "validation_pass_at_1.csv")
display(result.style.format({"base": "{:.1%}", "SFT": "{:.1%}"}))

ax = result[["base", "SFT"]].plot.bar(figsize=(7, 3.5), rot=0, color=["tab:gray", "tab:blue"])
ax.set(ylabel="pass@1", title=f"validation pass@1 ({len(val)} problems x {n_samples} samples)")
ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
plt.tight_layout()
plt.savefig(run_dir / "validation_pass_at_1.png", dpi=120)
plt.show()

# %% [markdown]
# ## A few completions
# One problem per difficulty: the task, the SFT model's first completion and its verdict.

# %%
shown = 0
for diff in ("introductory", "interview", "competition"):
    idx = next((i for i, p in enumerate(val) if p.difficulty == diff), None)
    if idx is None or shown >= n_show:
        continue
    shown += 1
    problem, completion = val[idx], details["SFT"]["completions"][idx][0]
    verdict = details["SFT"]["results"][idx][0].verdict
    display(Markdown(f"**{problem.id}** ({diff}) — verdict: `{verdict}`"))
    print(build_prompt(problem, cfg)[-400:])
    print("----- completion -----")
    print(completion.text)

# %% [markdown]
# ## Saved with this run
# The effective configuration (the profile as used, with this notebook's settings), the tables and
# the figures. The models themselves live in their cache folders, which later notebooks load by
# the same keys.

# %%
config_path = save_effective_config(cfg, run_dir, extra={
    "notebook": "02_sft_baseline", "seed": seed, "base_model": base_path, "sft_model": str(sft_path),
    "eval_problems": len(val), "eval_samples": n_samples, "seconds": {k: round(v, 1) for k, v in timings.items()},
    "validation_pass_at_1": result[["base", "SFT"]].round(4).to_dict()})
print(f"config: {config_path}")
display(pd.Series({k: f"{v:.0f} s" for k, v in timings.items()}, name="time this run"))

# %% [markdown]
# ## What we saw

# %%
overall = result.loc["overall"] if "overall" in result.index else result[["base", "SFT"]].mean()
points = [f"SFT ran {int(log['step'].max())} optimisation steps on {counts.loc['total', 'train']} training problems; "
          f"the solution-only loss went from {log['loss'].iloc[0]:.3f} to {log['loss'].iloc[-1]:.3f}.",
          f"Validation pass@1 ({len(val)} problems x {n_samples} samples): {overall['base']:.1%} for the base model, "
          f"{overall['SFT']:.1%} after SFT.",
          "Per difficulty, base -> SFT: " + ", ".join(f"{d} {r['base']:.1%} -> {r['SFT']:.1%}"
                                                      for d, r in result.iterrows() if d != "overall") + ".",
          "Time this run: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + "."]
display(what_we_saw(points))
