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
# # 03 · CCCS: the Curriculum of Code Completion Subtasks
#
# StepCoder's first contribution (Sec. 3.2, Algorithm 1), then its ablation: RL from the SFT model with and
# without the curriculum (the paper's "vanilla PPO" against "w/o FGO"). First the mechanics on real problems:
# the conditional statements in each canonical solution (the start points), the $\lceil\sqrt{E}\rceil$ stages,
# the prompt at every stage, Algorithm 1's update and a simulated run; then whether the first task is really
# easier, and two training runs per seed through the library (`stepcoder_lib.training.train.run_rl`).
#
# *Needs* the profile's APPS+ (01) and SFT model (02), built and cached on first use; real APPS from
# `../shared/realdata/apps_train5` for the mechanics when present · *writes* `out_dir/cccs_summary.json`,
# `cccs_progress.png`, `cccs_training.png`, `cccs_stages.png`, runs under `runs_dir/<profile>/` · *takes*
# seconds for the mechanics, plus the profile's training runs (`tiny`: about a minute each on 2 cores).

# %% tags=["parameters"]
profile = "tiny"  # run profile (stepcoder_lib.settings.profiles): data, model, RL hyperparameters, sizes
algo = "ppo"  # "ppo" (the paper's) or "grpo"
seeds = None  # training seeds; None: the profile's rl.seeds
train = True  # False: only the mechanics (no training runs)
sft_path = None  # SFT model folder; None: the profile's cached SFT baseline (notebook 02)
runs_dir = None  # where runs live; None: artifacts/runs
overrides = {}  # profile overrides, e.g. {"rl.steps": 10, "rl.cccs.cut_at_line_start": True} (CCCS: rl.cccs)
apps_plus = None  # path to APPS+ JSON lines for the mechanics; first choice when given
apps_path = None  # an APPS folder / file; used when apps_plus is None
use_realdata = True  # real APPS from realdata_dir()/apps_train5 ($STEPCODER_REALDATA or ../shared/realdata)
n_problems = 8  # problems to show
seed = 0  # synthetic dataset and the simulated run
kinds = ["if", "elif"]  # which statements are start points; add "for", "while", "try", "match", "ifexp"
sim_problems = 40  # generated problems in the simulated curriculum run
sim_steps = 150  # update steps simulated
rollouts = 16  # rollouts per problem per step in the simulation (the paper's 16)
skill0 = 0.3  # scripted learner: pass rate on the whole program at step 0 ...
skill_gain = 0.01  # ... growing by this much per step
out_dir = None  # None: artifacts/notebooks/03
check_problems = 40  # training problems with a stage beyond 0 in the starting-stage check (0: skip it)
check_samples = 4  # completions per problem and prompt in that check, at the rollout decoding

# %%
import json
from collections import Counter

import pandas as pd
from IPython.display import HTML, display

from stepcoder_lib.data.conditionals import ALL_KINDS, find_conditional_statements
from stepcoder_lib.data.demo import demo_problems
from stepcoder_lib.method.curriculum import Curriculum, remaining_share_policy, simulate
from stepcoder_lib.method.viz import curriculum_explorer, plot_curriculum_progress, render_stage_html, stage_counts
from stepcoder_lib.settings.chapters import show_source
from stepcoder_lib.settings.paths import notebook_output_dir
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.runplots import plot_stage_histogram, show_ablation
from stepcoder_lib.training.train import run_ablation

prof = get_profile(profile, overrides)
out = notebook_output_dir(out_dir, "03")
config, kinds = prof.rl.cccs, tuple(kinds)
print(f"profile {prof.name}: alpha {config.alpha}, rho_t {config.rho_threshold}, cut at line start "
      f"{config.cut_at_line_start}")

# %% [markdown]
# ## The problems and their start points
# For every canonical solution $y_i$: $E_i$ conditional statements (by default `if` and each `elif`: what
# "conditional statement" means in Python's grammar; an `else:` has no condition), $\lceil\sqrt{E_i}\rceil$
# stages, a stride of $s_i = \lceil E_i / \lceil\sqrt{E_i}\rceil\rceil$ statements between stages, and the stage
# training starts at, $c_i = \lceil\sqrt{E_i}\rceil - 1$. At stage $c$ the model gets $x' = (x, x_p)$ with
# $x_p$ = $y_i$ up to the start of statement number $s_i c$ (stage 0: the empty prefix, the whole program).

# %%
problems, source = demo_problems(apps_path, use_realdata, n_problems, seed, apps_plus=apps_plus)
print(f"{len(problems)} problems from {source}")
cur = Curriculum.from_problems(problems, config, kinds)
plans = pd.DataFrame([{"id": p.id, "difficulty": p.difficulty, "lines": p.canonical_solution.count("\n") + 1,
                       "E": cur.plans[p.id].n_conditionals, "stages": cur.plans[p.id].n_stages,
                       "stride": cur.plans[p.id].stride, "start stage": cur.stage(p.id),
                       "prefix chars at start": cur.plans[p.id].cuts[-1], "of": cur.plans[p.id].length}
                      for p in problems]).set_index("id")
display(plans)

# %% [markdown]
# One solution with its statements: 1-based lines, character offsets (`ast` reports UTF-8 byte columns;
# they are converted to characters), and the kinds a wider `kinds` setting would add.

# %%
richest = max(problems, key=lambda p: (cur.plans[p.id].n_conditionals, p.id))
conds = find_conditional_statements(richest.canonical_solution, kinds)
starts = {c.start_line for c in conds}
print(f"{richest.id}: {len(conds)} conditional statements")
for i, line in enumerate(richest.canonical_solution.splitlines(), 1):
    print(f"{'>>' if i in starts else '  '} {i:3d} {line}")
wide = Counter(c.kind for p in problems for c in find_conditional_statements(p.canonical_solution, ALL_KINDS))
print("all kinds over these problems:", dict(sorted(wide.items())))
columns = ["kind", "start_line", "end_line", "start_char", "end_char"]
display(pd.DataFrame([c.to_dict() for c in conds], columns=columns))

# %% [markdown]
# ## Every stage of one problem
# Grey: the canonical prefix, appended to the task prompt (it is prompt, so it never carries gradient).
# The rest is what the model writes; the reward runs prefix + completion. `▸` marks each stage's start.

# %%
plan = cur.plans[richest.id]
for stage in range(plan.n_stages - 1, -1, -1):
    display(HTML(render_stage_html(richest.canonical_solution, plan, stage)))
prompt = cur.prompt_for(richest.id, prof.model.prompt_template.format(task="<task>"))
print(prompt[-300:])

# %% [markdown]
# ## Explorer
# Pick a problem and slide through its stages (in a live kernel; under papermill it is only displayed).

# %%
explorer = curriculum_explorer(problems, config, kinds)
display(explorer)

# %% [markdown]
# ## Algorithm 1's update, simulated
# After every rollout of problem $i$, its running pass rate moves:
#
# $$\rho_i \leftarrow \begin{cases}\alpha + (1-\alpha)\,\rho_i & \text{if the program passed (verdict, not reward)}\\
# (1-\alpha)\,\rho_i & \text{otherwise}\end{cases}
# \qquad\text{and if } \rho_i > \rho_t:\ \rho_i \leftarrow 0,\ c_i \leftarrow \max(c_i - 1, 0).$$
#
# `Curriculum.update` applies it to a batch of results, in order, as training runs it (a result generated at a
# stage the problem has already left is skipped):

# %%
display(show_source(Curriculum.update))

# %% [markdown]
# A scripted learner passes with probability skill^(share of the solution it must write), its skill
# growing every step; each step draws `rollouts` results per problem and applies them in one update, as a
# trainer does after a batch. With $\alpha = 0.1$, $\rho_t = 0.8$ a stage moves back only after 16 passes
# in a row from $\rho = 0$. Stages only ever move toward 0.

# %%
sim_set, sim_source = demo_problems(None, False, sim_problems, seed)
sim = Curriculum.from_problems(sim_set, config, kinds)
history = simulate(sim, remaining_share_policy(skill0, skill_gain), sim_steps, rollouts=rollouts, seed=seed)
counts = stage_counts(history)
first_all_zero = next((t for t, row in enumerate(counts) if row[0] == len(sim_set)), None)
fig = plot_curriculum_progress(history, title=f"CCCS on {len(sim_set)} problems ({sim_source})")
fig.savefig(out / "cccs_progress.png", dpi=120, bbox_inches="tight")
print(f"problems at stage 0: step 0: {counts[0][0]}, step {len(counts) - 1}: {counts[-1][0]} of {len(sim_set)}; "
      f"all at stage 0 from step {first_all_zero}")
moves_back_only = all(history[t + 1][k] in (history[t][k], history[t][k] - 1) for t in range(len(history) - 1)
                      for k in history[t])
print("stages only moved toward 0:", moves_back_only)

# %% [markdown]
# ## Checkpointing
# The state (stage and rho per problem) saves to JSON and loads back exactly; on several ranks the
# update takes the results gathered from all of them, so every rank holds the same state. Training
# checkpoints hold it next to the policy, critic, optimisers and RNG states.

# %%
sim.save(out / "cccs_state.json")
restored = Curriculum.from_problems(sim_set, config, kinds)
restored.load(out / "cccs_state.json")
print("state round-trips:", restored.state_dict() == sim.state_dict())

# %% [markdown]
# ## Is the first task easier than the whole program?
# CCCS assumes that completing the tail of the canonical solution is easier than writing all of it. For a
# model, "the prefix" must be the token sequence it saw in SFT: there, task prompt and solution were
# tokenised together, and byte-level BPE merges indentation into the line break (`"\n   "` then `" if"`).
# Text cut at the keyword and tokenised alone ends in a token the model never saw there. Training therefore
# feeds the prompt as token ids, cut at the start of the joint tokenisation's token that covers the
# conditional (`encoding.aligned_prefix`, shown below). The check: the SFT model on the same training
# problems (those with a stage beyond 0), at the rollout decoding, with three prompts.

# %%
from stepcoder_lib.models.encoding import aligned_prefix

display(show_source(aligned_prefix))
check = None
if train and check_problems:
    from stepcoder_lib.data.prepare import load_splits
    from stepcoder_lib.executor import Executor
    from stepcoder_lib.models.loading import load_policy
    from stepcoder_lib.results.evaluation import executor_config_from_profile
    from stepcoder_lib.training.train import resolve_sft, starting_stage_check

    sft_model, sft_tok = load_policy(resolve_sft(prof, sft_path), prof, trainable=False)
    with Executor(executor_config_from_profile(prof)) as check_ex:
        check = starting_stage_check(sft_model, sft_tok, load_splits(prof)["train"], prof, check_ex,
                                     n_problems=check_problems, samples=check_samples, seed=seed)
    del sft_model
    display(check.round(3))

# %% [markdown]
# ## Training with and without CCCS
# Both runs start from the SFT model $\pi_{ref}$ and maximise the paper's objective (Eq. 4) with PPO:
#
# $$\max_\theta\ \mathbb{E}_{x' \sim D,\ \hat y \sim \pi_\theta(\cdot|x')}\Big[r(x', \hat y)
#   - \beta \log\frac{\pi_\theta(\hat y|x')}{\pi_{ref}(\hat y|x')}\Big],\qquad
# r = \begin{cases}+1 & \text{passes all unit tests}\\ -0.3 & \text{wrong answer}\\ -0.6 & \text{runtime error}\\
#   -1 & \text{compile error}\end{cases}\quad(\text{Eq. 3})$$
#
# with GAE advantages (Eq. 2). Without CCCS, $x' = x$ (the whole program from the task); with CCCS,
# $x' = (x, x_p)$ at the problem's current stage and the reward runs $x_p + \hat y$. FGO is off in both
# (that is notebook 04's question). The training reward of a CCCS run is earned on easier tasks (the prefix
# helps), so compare the *whole-program* pass rate (rollouts at stage 0) and, in notebook 06, pass@1 on
# held-out problems.

# %%
runs = []
if train:
    runs = run_ablation(prof, [algo], ["vanilla", "cccs"], seeds, runs_dir, sft_path)
    frame = show_ablation(runs, ["reward_mean", "pass_rate", "pass_rate_stage0", "remaining_share_mean"],
                          title=f"{algo.upper()} with and without CCCS ({prof.name})", png=out / "cccs_training.png")

# %% [markdown]
# The curriculum during training: problems per stage (the start point moving back toward the beginning of
# the solution as each problem's running pass rate crosses $\rho_t$).

# %%
if train:
    cccs_run = next(r for r in runs if json.loads((r / "config.json").read_text())["cccs"])
    fig = plot_stage_histogram(cccs_run)
    fig.savefig(out / "cccs_stages.png", dpi=120, bbox_inches="tight")

# %%
summary = {
    "source": source,
    "config": sim.state_dict()["config"],
    "plans": {p.id: {"E": cur.plans[p.id].n_conditionals, "stages": cur.plans[p.id].n_stages,
                     "stride": cur.plans[p.id].stride, "cuts": list(cur.plans[p.id].cuts)} for p in problems},
    "simulation": {"problems": len(sim_set), "steps": sim_steps, "stage_counts_first": counts[0],
                   "stage_counts_last": counts[-1], "all_zero_at_step": first_all_zero,
                   "moves_back_only": moves_back_only},
    "state_round_trip": restored.state_dict() == sim.state_dict(),
    "runs": [str(r) for r in runs],
    "starting_stage_check": check.reset_index().to_dict("records") if check is not None else None,
}
(out / "cccs_summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
print("wrote", out / "cccs_summary.json")

# %% [markdown]
# ## What we saw

# %%
from IPython.display import Markdown

saw = [f"- The simulated curriculum ({len(sim_set)} problems, {sim_steps} steps) moved stages only toward 0: "
       f"{moves_back_only}; {counts[-1][0]} of {len(sim_set)} problems ended at the whole program"
       + (f" (all from step {first_all_zero})." if first_all_zero is not None else ".")]
if check is not None:
    whole, alone, aligned = (check.iloc[i] for i in range(3))
    verdict = "easier than" if aligned["mean reward"] >= whole["mean reward"] else "harder than"
    saw.append(f"- On {int(aligned['problems'])} training problems x {check_samples} samples, the SFT model's first "
               f"CCCS task (token-aligned, {aligned['prefix share']:.0%} of the solution given) is {verdict} the "
               f"whole program: mean reward {aligned['mean reward']:.2f} against {whole['mean reward']:.2f}, compile "
               f"errors {aligned['compile error']:.0%} against {whole['compile error']:.0%}. Cut as text and "
               f"tokenised alone, the same task scores {alone['mean reward']:.2f} with {alone['compile error']:.0%} "
               "compile errors: a tokenizer defect, not the curriculum.")
if runs:
    used_seeds = sorted(set(seeds or prof.rl.seeds))
    saw.append(f"- {len(runs)} training runs ({algo.upper()}, vanilla and CCCS, seeds {used_seeds}) are compared "
               "above; notebook 06 evaluates them on held-out problems.")
display(Markdown("\n".join(saw)))
