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
# # 05 · StepCoder against vanilla RL
#
# The paper's headline comparison: RL from compiler feedback with both of StepCoder's parts (CCCS and FGO)
# against vanilla RL (neither), from the same SFT model, with PPO as the paper trains it and, where the
# profile asks, GRPO (TRL's `GRPOTrainer`) as a critic-free alternative. First the objective and the two
# library functions PPO's update is made of (GAE and the clipped surrogate), then the runs.
#
# *Needs* the profile's APPS+ (01) and SFT model (02); runs already trained by 03/04 are reused · *writes*
# `out_dir/full_training.json`, `full_training.png`, `full_by_difficulty.png`, `full_stages.png`, runs under
# `runs_dir/<profile>/` · *takes* the profile's `rl` budget per run (`tiny`: about a minute per run on 2 cores,
# 2 PPO runs per seed; `smoke`: under a minute).

# %% tags=["parameters"]
profile = "tiny"  # run profile (stepcoder_lib.settings.profiles): data, model, RL hyperparameters, sizes
algos = None  # algorithms to compare StepCoder and vanilla RL with; None: the profile's rl.algos
seeds = None  # PPO seeds; None: the profile's rl.seeds
grpo_seeds = None  # GRPO seeds; None: the first of the profile's rl.seeds (GRPO is the extension, not the paper)
sft_path = None  # SFT model folder; None: the profile's cached SFT baseline (notebook 02)
runs_dir = None  # where runs live; None: artifacts/runs
overrides = {}  # profile overrides for the runs, e.g. {"rl.steps": 10}
out_dir = None  # None: artifacts/notebooks/05

# %%
import json

from IPython.display import display

from stepcoder_lib.settings.chapters import show_source, what_we_saw
from stepcoder_lib.settings.paths import notebook_output_dir
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.ppo import gae, kl_penalised_rewards, policy_loss
from stepcoder_lib.training.runplots import (
    before_after,
    plot_curves,
    plot_pass_rate_by_difficulty,
    plot_stage_histogram,
    probe_table,
    runs_frame,
)
from stepcoder_lib.training.train import plan, run_ablation

prof = get_profile(profile, overrides)
out = notebook_output_dir(out_dir, "05")
algos = list(algos) if algos is not None else list(prof.rl.algos)
seeds = list(seeds) if seeds is not None else list(prof.rl.seeds)
grpo_seeds = list(grpo_seeds) if grpo_seeds is not None else seeds[:1]
for algo in algos:
    print(plan(prof, algo, cccs=True, fgo=True), "\n")

# %% [markdown]
# ## What is compared
# Both settings maximise Eq. 4 from the SFT model $\pi_{ref}$:
#
# $$\max_\theta\ \mathbb{E}\Big[r(x', \hat y) - \beta \log\frac{\pi_\theta(\hat y|x')}{\pi_{ref}(\hat y|x')}\Big],\qquad
# r \in \{+1, -0.3, -0.6, -1\}\ \text{(Eq. 3: pass, wrong answer, runtime error, compile error)}.$$
#
# **Vanilla RL**: $x' = x$, and every completion token carries its advantage. **StepCoder**: $x' = (x, x_p)$,
# the task plus the canonical prefix of the problem's current curriculum stage, which moves back after
# each run of passes (Algorithm 1: $\rho_i \leftarrow \alpha[\text{passed}] + (1-\alpha)\rho_i$; if
# $\rho_i > \rho_t$ then $\rho_i \leftarrow 0$, $c_i \leftarrow \max(c_i - 1, 0)$); and the policy loss keeps
# only tokens on executed code, $m_{ij} = 1$:
#
# $$L^{\text{policy}} = -\frac{1}{\sum m_{ij}} \sum_{i,j} m_{ij} \min\big(\rho_{ij} \hat A_{ij},
#   \operatorname{clip}(\rho_{ij}, 1 \pm \epsilon)\hat A_{ij}\big).$$
#
# PPO's advantages are GAE (Eq. 2), $\hat A_t = \sum_l (\gamma\lambda)^l (r_{t+l} + \gamma V(s_{t+l+1}) - V(s_{t+l}))$,
# from a critic initialised from the SFT model; GRPO's are the reward's z-score within each group of
# rollouts of the same problem, with the same KL coefficient in the loss and FGO as TRL's per-token mask.
#
# ## PPO's update, from the library
# Per token, the reward is Eq. 4's: $r_t = -\beta \log\frac{\pi_\theta}{\pi_{ref}}(y_t)$ on every completion
# token, plus the Eq. 3 score on the last (`kl_penalised_rewards`). GAE (Eq. 2) runs backwards over each
# completion, with the value after its last token taken as 0:
#
# $$\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t),\qquad \hat A_t = \delta_t + \gamma\lambda \hat A_{t+1},
#   \qquad \hat R_t = \hat A_t + V(s_t).$$

# %%
display(show_source(kl_penalised_rewards, gae))

# %% [markdown]
# The clipped surrogate is a token mean over the mask it is given, the completion tokens times FGO's
# executed-token mask (all ones in vanilla RL), with $\rho_{ij} = \exp(\log\pi_\theta - \log\pi_{old})$:
#
# $$L^{\text{policy}} = \frac{1}{\sum m_{ij}} \sum_{i,j} m_{ij}\,
#   \max\big(-\hat A_{ij}\,\rho_{ij},\ -\hat A_{ij}\operatorname{clip}(\rho_{ij}, 1-\epsilon, 1+\epsilon)\big).$$

# %%
display(show_source(policy_loss))

# %% [markdown]
# ## The runs

# %%
runs = run_ablation(prof, ["ppo"], ["vanilla", "stepcoder"], seeds, runs_dir, sft_path) if "ppo" in algos else []
if "grpo" in algos:
    runs += run_ablation(prof, ["grpo"], ["vanilla", "stepcoder"], grpo_seeds, runs_dir, sft_path)
frame = runs_frame(runs)
probes = probe_table(runs)  # the SFT model and the trained policy on the same fixed problems (whole programs)
display(probes)
table = before_after(frame)  # the training curves' first and last steps
display(table)

# %% [markdown]
# ## Training curves
# Mean over seeds, shaded between the seeds' min and max. A StepCoder run earns part of its early reward on
# easier tasks (the prefix helps), so the whole-program pass rate (rollouts at stage 0) and the share of the
# solution left to write tell how far its curriculum has come.

# %%
fig = plot_curves(frame, ["reward_mean", "pass_rate", "pass_rate_stage0", "remaining_share_mean", "fgo_kept_share",
                          "kl"], title=f"StepCoder vs vanilla RL ({prof.name})")
fig.savefig(out / "full_training.png", dpi=120, bbox_inches="tight")

# %%
fig = plot_pass_rate_by_difficulty(frame)
fig.savefig(out / "full_by_difficulty.png", dpi=120, bbox_inches="tight")

# %% [markdown]
# ## The curriculum of the StepCoder PPO run (first seed)

# %%
stepcoder_runs = [r for r in runs if json.loads((r / "config.json").read_text())["setting"] == "stepcoder"]
if stepcoder_runs:
    fig = plot_stage_histogram(stepcoder_runs[0])
    fig.savefig(out / "full_stages.png", dpi=120, bbox_inches="tight")

# %%
summary = {"profile": prof.name, "runs": [str(r) for r in runs],
           "before_after": json.loads(table.reset_index().to_json(orient="records")),
           "probe": json.loads(probes.reset_index().to_json(orient="records"))}
(out / "full_training.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
display(frame.groupby("label")[["time/step", "tokens_per_s"]].mean())
print("wrote", out / "full_training.json")

# %% [markdown]
# ## What we saw

# %%
points = [f"{len(runs)} runs on profile {prof.name!r}: " + ", ".join(
    f"{label} ({n} seed{'s' if n > 1 else ''})" for label, n in frame.groupby("label")["seed"].nunique().items()) + "."]
for (run, seed), row in table.iterrows():
    steps = int(row["steps"])
    text = f"{run}, seed {seed}: training reward {row['reward_mean first 3']:.2f} -> {row['reward_mean last 3']:.2f} " \
           f"(mean of the first and last {min(3, steps)} of {steps} steps)"
    if (run, seed) in probes.index:
        probe = probes.loc[(run, seed)]
        text += (f"; whole-program pass rate on the fixed probe problems {probe['pass_rate SFT']:.0%} (SFT) -> "
                 f"{probe['pass_rate trained']:.0%} (trained), mean reward {probe['reward_mean SFT']:.2f} -> "
                 f"{probe['reward_mean trained']:.2f}")
    points.append(text + ".")
points.append("Pass@1 on held-out problems, with intervals over seeds, is notebook 06's.")
display(what_we_saw(points))
