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
# **What it shows.** StepCoder's first contribution (Sec. 3.2, Algorithm 1) on real problems: the
# conditional statements found in each canonical solution (the start points), the ceil(sqrt(E)) stages
# and their stride, the prompt (task + canonical prefix) the model gets at every stage and what is left
# for it to write, an interactive explorer, and a simulated training run in which a scripted learner's
# pass rate drives every problem's stage back toward 0 (the whole program). The CCCS-vs-no-CCCS
# training ablation joins this notebook when training lands; everything here is the library code those
# trainers use (`stepcoder_lib.curriculum`).
#
# **What it needs.** Nothing by default: real APPS problems from `../shared/realdata/apps_train5` when
# that folder exists, else the synthetic dataset. Give `apps_plus` (notebook 01's `apps_plus.jsonl`)
# or `apps_path` (an APPS folder) to use those instead.
#
# **What it writes.** `out_dir/cccs_summary.json` (stage plans, simulated run) and `cccs_progress.png`.
#
# **How long.** A few seconds.

# %% tags=["parameters"]
apps_plus = None  # path to APPS+ JSON lines (notebook 01's output); first choice when given
apps_path = None  # an APPS folder / file; used when apps_plus is None
use_realdata = True  # real APPS from realdata_dir()/apps_train5 ($STEPCODER_REALDATA or ../shared/realdata) when present
n_problems = 8  # problems to show
seed = 0  # synthetic dataset and the simulated run
alpha = 0.1  # running pass-rate update (Algorithm 1); see stepcoder_lib.curriculum for the defaults' reasons
rho_threshold = 0.8  # a stage moves back when the running pass rate exceeds this
kinds = ["if", "elif"]  # which statements are start points; add "for", "while", "try", "match", "ifexp"
cut_at_line_start = False  # cut at the statement's keyword (paper) or at the start of its line
sim_problems = 40  # generated problems in the simulated curriculum run
sim_steps = 150  # update steps simulated
rollouts = 16  # rollouts per problem per step (the paper's 16)
skill0 = 0.3  # scripted learner: pass rate on the whole program at step 0 ...
skill_gain = 0.01  # ... growing by this much per step
out_dir = None  # None: artifacts/notebooks/03

# %%
import json
from collections import Counter
from pathlib import Path


from stepcoder_lib.data import repo_root  # noqa: E402  (installed into .venv by `make venv`)

ROOT = repo_root()

from IPython.display import HTML, Markdown, display  # noqa: E402

from stepcoder_lib.curriculum import (  # noqa: E402
    ALL_KINDS, Curriculum, CurriculumConfig, find_conditional_statements, remaining_share_policy, simulate,
)
from stepcoder_lib.data.demo import demo_problems  # noqa: E402
from stepcoder_lib.viz import (  # noqa: E402
    curriculum_explorer, plot_curriculum_progress, render_stage_html, stage_counts,
)

out = Path(out_dir).expanduser() if out_dir else ROOT / "artifacts" / "notebooks" / "03"
out = out if out.is_absolute() else ROOT / out
out.mkdir(parents=True, exist_ok=True)
config = CurriculumConfig(alpha=alpha, rho_threshold=rho_threshold, kinds=tuple(kinds),
                          cut_at_line_start=cut_at_line_start)


def table(rows, columns) -> Markdown:
    """A Markdown table (no pandas needed)."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return Markdown(head + "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows))


# %% [markdown]
# ## The problems and their start points
# For every canonical solution: E conditional statements (by default `if` and each `elif`: what
# "conditional statement" means in Python's grammar; an `else:` has no condition), ceil(sqrt(E)) stages,
# a stride of ceil(E / ceil(sqrt(E))) statements between stages, and the stage training starts at.

# %%
problems, source = demo_problems(apps_path, use_realdata, n_problems, seed, apps_plus=apps_plus)
print(f"{len(problems)} problems from {source}")
cur = Curriculum.from_problems(problems, config)
rows = []
for p in problems:
    plan = cur.plans[p.id]
    rows.append({"id": p.id, "difficulty": p.difficulty, "lines": p.canonical_solution.count("\n") + 1,
                 "E": plan.n_conditionals, "stages": plan.n_stages, "stride": plan.stride,
                 "start stage": cur.stage(p.id), "prefix chars at start": plan.cuts[-1],
                 "of": plan.length})
display(table(rows, list(rows[0])))

# %% [markdown]
# One solution with its statements: 1-based lines, character offsets (`ast` reports UTF-8 byte columns;
# they are converted to characters), and the kinds a wider `kinds` setting would add.

# %%
richest = max(problems, key=lambda p: (cur.plans[p.id].n_conditionals, p.id))
conds = find_conditional_statements(richest.canonical_solution, config.kinds)
starts = {c.start_line for c in conds}
print(f"{richest.id}: {len(conds)} conditional statements")
for i, line in enumerate(richest.canonical_solution.splitlines(), 1):
    print(f"{'>>' if i in starts else '  '} {i:3d} {line}")
display(table([c.to_dict() for c in conds], ["kind", "start_line", "end_line", "start_char", "end_char"]))
wide = Counter(c.kind for p in problems for c in find_conditional_statements(p.canonical_solution, ALL_KINDS))
print("all kinds over these problems:", dict(sorted(wide.items())))

# %% [markdown]
# ## Every stage of one problem
# Grey: the canonical prefix, appended to the task prompt (it is prompt, so it never carries gradient).
# The rest is what the model writes; the reward runs prefix + completion. `▸` marks each stage's start.

# %%
plan = cur.plans[richest.id]
for stage in range(plan.n_stages - 1, -1, -1):
    display(HTML(render_stage_html(richest.canonical_solution, plan, stage)))
prompt = cur.prompt_for(richest.id, "### Instruction:\nwrite an algorithm in python:\n<task>\n### Response:\n")
print(prompt[-300:])

# %% [markdown]
# ## Explorer
# Pick a problem and slide through its stages (in a live kernel; under papermill it is only displayed).

# %%
explorer = curriculum_explorer(problems, config)
display(explorer)

# %% [markdown]
# ## A simulated curriculum run
# A scripted learner passes with probability skill^(share of the solution it must write), its skill
# growing every step; each step draws `rollouts` results per problem and applies them in one update, as
# a trainer does after a batch (one rollout at a time, in order, Algorithm 1). With the defaults a stage
# moves back only after 16 passes in a row from rho = 0. Stages only ever move toward 0.

# %%
sim_set, sim_source = demo_problems(None, False, sim_problems, seed)
sim = Curriculum.from_problems(sim_set, config)
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
# update takes the results gathered from all of them, so every rank holds the same state.

# %%
sim.save(out / "cccs_state.json")
restored = Curriculum.from_problems(sim_set, config)
restored.load(out / "cccs_state.json")
print("state round-trips:", restored.state_dict() == sim.state_dict())

summary = {
    "source": source,
    "config": sim.state_dict()["config"],
    "plans": {p.id: {"E": cur.plans[p.id].n_conditionals, "stages": cur.plans[p.id].n_stages,
                     "stride": cur.plans[p.id].stride, "cuts": list(cur.plans[p.id].cuts)} for p in problems},
    "simulation": {"problems": len(sim_set), "steps": sim_steps, "stage_counts_first": counts[0],
                   "stage_counts_last": counts[-1], "all_zero_at_step": first_all_zero,
                   "moves_back_only": moves_back_only},
    "state_round_trip": restored.state_dict() == sim.state_dict(),
}
(out / "cccs_summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
print("wrote", out / "cccs_summary.json")
