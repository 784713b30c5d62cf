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
# # 04 · FGO: Fine-Grained Optimization, the executed-token mask
#
# **What it shows.** StepCoder's second contribution (Sec. 3.3), then its ablation: RL from the SFT model
# with and without FGO (the paper's "vanilla PPO" against "w/o CCCS", i.e. FGO only). First the mechanics:
# rollouts are run on their unit tests in the sandboxed executor with line coverage; only the tokens of
# code the tests executed stay in the policy loss. The HTML view colours executed tokens green and
# unexecuted ones red, as in the paper's figure; the masks show what the loss does and does not see,
# including a crash part-way and a compile error (whose mask is all ones, so that the paper's -1 reaches
# the model). Then two real training runs per seed through the library (`stepcoder_lib.training.train.run_rl`):
# training reward, pass rate per difficulty and the share of completion tokens FGO keeps.
#
# **What it needs.** The profile's APPS+ (notebook 01) and SFT model (notebook 02), built on first use and
# cached. Real APPS problems from `../shared/realdata/apps_train5` illustrate the mechanics when present
# (else the synthetic dataset); `apps_plus` / `apps_path` choose other data.
#
# **What it writes.** `out_dir/fgo_summary.json` (verdicts, masked shares, runs), `fgo_view.html`,
# `fgo_training.png`; each training run under `runs_dir/<profile>/` (cached by a hash of its config).
#
# **How long.** About 10-20 s for the mechanics; each training run takes what the profile's `rl` section
# asks (`tiny`: about a minute per run on 2 cores, 2 runs per seed, vanilla reused from 03; `smoke`: seconds).

# %% tags=["parameters"]
profile = "tiny"  # run profile (stepcoder_lib.settings.profiles): data, model, RL hyperparameters, sizes
algo = "ppo"  # "ppo" (the paper's) or "grpo"
seeds = None  # training seeds; None: the profile's rl.seeds
train = True  # False: only the mechanics (no training runs)
sft_path = None  # SFT model folder; None: the profile's cached SFT baseline (notebook 02)
runs_dir = None  # where runs live; None: artifacts/runs
overrides = {}  # profile overrides for the runs, e.g. {"rl.steps": 10}
apps_plus = None  # path to APPS+ JSON lines for the mechanics; first choice when given
apps_path = None  # an APPS folder / file; used when apps_plus is None
use_realdata = True  # real APPS from realdata_dir()/apps_train5 ($STEPCODER_REALDATA or ../shared/realdata)
n_problems = 6  # problems to run
seed = 0  # synthetic dataset
stage = "start"  # CCCS stage to cut at: "start" (where training begins), or an int (clipped per problem)
max_tests = 5  # unit tests per problem (APPS+ has about 3)
workers = None  # executor processes; None: all cores
time_limit_s = 2.0  # CPU seconds per test
show = 3  # HTML views to display
out_dir = None  # None: artifacts/notebooks/04

# %%
import ast
import dataclasses
import json

import pandas as pd
import torch
from IPython.display import HTML, display

from stepcoder_lib.data.conditionals import line_offsets
from stepcoder_lib.data.demo import demo_problems
from stepcoder_lib.executor import Executor, ExecutorConfig, Job, Verdict
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.method.masking import apply_token_mask, completion_offsets, line_status, mask_from_result, pad_masks
from stepcoder_lib.method.reward import reward_of
from stepcoder_lib.method.viz import render_coverage_html
from stepcoder_lib.models.tokenizer import tiny_tokenizer
from stepcoder_lib.settings.paths import notebook_output_dir
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.runplots import show_ablation
from stepcoder_lib.training.train import run_ablation

prof = get_profile(profile, overrides)
out = notebook_output_dir(out_dir, "04")

# %% [markdown]
# ## Rollouts, judged with coverage
# The mechanics use scripted rollouts, cut at a CCCS stage, so that every case appears: the canonical
# completion itself; its first 60% (usually a compile error); and the canonical completion with a `raise`
# injected before the last completion statement its tests executed (a crash part-way). One batch through
# the sandboxed executor per round; each result carries its verdict, the paper's reward and the union of
# lines its tests executed (1-based lines of prefix + completion).

# %%
problems, source = demo_problems(apps_path, use_realdata, n_problems, seed, apps_plus=apps_plus)
print(f"{len(problems)} problems from {source}")
cur = Curriculum.from_problems(problems)


def inject_crash(program: str, prefix_len: int, executed: frozenset) -> str:
    """Insert a raise, at the same indentation, before the last executed statement of the completion."""
    lines = program.splitlines(keepends=True)
    starts = line_offsets(program)
    targets = [n for n in ast.walk(ast.parse(program)) if isinstance(n, ast.stmt) and n.lineno in executed
               and starts[n.lineno - 1] >= prefix_len and not lines[n.lineno - 1][: n.col_offset].strip()
               and not getattr(n, "decorator_list", None) and not lines[n.lineno - 1].lstrip().startswith("elif")]
    if not targets:
        return program
    t = max(targets, key=lambda n: (n.lineno, -n.col_offset))
    lines.insert(t.lineno - 1, f"{lines[t.lineno - 1][: t.col_offset]}raise RuntimeError('injected crash')\n")
    return "".join(lines)


def judge(batch: list) -> None:
    with Executor(ExecutorConfig(workers=workers, coverage=True, time_limit_s=time_limit_s)) as ex:
        results = ex.run_batch([Job(r["prefix"] + r["completion"], r["tests"], problem_id=r["id"]) for r in batch],
                               progress=False)
    for r, res in zip(batch, results):
        r["result"] = res


rollouts = []
for p in problems:
    plan = cur.plans[p.id]
    c = plan.n_stages - 1 if stage == "start" else max(0, min(int(stage), plan.n_stages - 1))
    prefix = cur.prefix_for(p.id, c)
    tests = dataclasses.replace(p.tests, inputs=p.tests.inputs[:max_tests], outputs=p.tests.outputs[:max_tests])
    rollouts.append({"id": p.id, "stage": c, "kind": "canonical", "prefix": prefix,
                     "completion": p.canonical_solution[len(prefix):], "tests": tests})
judge(rollouts)
more = []
for r in rollouts:
    crashed = inject_crash(r["prefix"] + r["completion"], len(r["prefix"]), r["result"].executed_lines)
    more.append({**r, "kind": "crash", "completion": crashed[len(r["prefix"]):]})
    more.append({**r, "kind": "truncated", "completion": r["completion"][: int(len(r["completion"]) * 0.6)]})
judge(more)
rollouts = sorted(rollouts + more, key=lambda r: (r["id"], ["canonical", "crash", "truncated"].index(r["kind"])))
print(f"{len(rollouts)} rollouts")

# %%
tok = tiny_tokenizer()
for r in rollouts:
    r["ids"] = tok(r["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    text, offsets = completion_offsets(tok, r["ids"])
    r["mask"] = mask_from_result(r["result"], r["prefix"], text, offsets)
table = pd.DataFrame([{"id": r["id"], "rollout": r["kind"], "stage": r["stage"], "verdict": r["result"].verdict.value,
                       "reward": reward_of(r["result"].verdict), "lines run": len(r["result"].executed_lines),
                       "tokens": len(r["ids"]), "in loss": sum(r["mask"])} for r in rollouts])
table["masked out"] = 1 - table["in loss"] / table["tokens"]
display(table.style.format({"masked out": "{:.0%}"}))

# %% [markdown]
# ## What the tests touched
# Grey: prefix (prompt, no gradient). Green: executed completion tokens (in the loss). Red: tokens the
# tests never executed (masked out). Token boundaries are the thin lines.

# %%
pages = []
for r in [r for r in rollouts if r["kind"] != "truncated"][: 2 * show]:
    res = r["result"]
    head = f"<h4>{r['id']} · {r['kind']} · {res.verdict.value} (reward {reward_of(res.verdict)})</h4>"
    page = head + render_coverage_html(r["prefix"] + r["completion"], len(r["prefix"]), res.executed_lines,
                                       tokenizer=tok, compiled=res.verdict != Verdict.COMPILE_ERROR)
    pages.append(page)
    display(HTML(page))
(out / "fgo_view.html").write_text("<meta charset='utf-8'>" + "\n".join(pages), encoding="utf-8")

# %% [markdown]
# ## Line policy, per test
# Each test executes its own lines; the mask uses their union. `else:`/`try:`/`finally:` lines take the
# status of the block they open, comments and blank lines that of the next code line.

# %%
r = max((r for r in rollouts if r["kind"] == "canonical"), key=lambda r: len(r["result"].tests))
res, program = r["result"], r["prefix"] + r["completion"]
status = line_status(program, res.executed_lines)
per_test = [t.lines for t in res.tests]
print(f"{r['id']}: {len(per_test)} tests; columns: tests 0..{len(per_test) - 1}, union, mask status")
for i, line in enumerate(program.splitlines(), 1):
    marks = "".join("x" if i in s else "." for s in per_test)
    print(f"{i:3d} {marks} {'x' if i in res.executed_lines else '.'} {'1' if status[i - 1] else '0'}  {line[:90]}")

# %% [markdown]
# ## Into the loss
# PPO's clipped policy loss with FGO is a mean over the kept tokens only: with $m_{ij} = 1$ when token $j$ of
# rollout $i$ lies on executed code (and is a completion token),
#
# $$L^{\text{policy}} = -\frac{1}{\sum_{i,j} m_{ij}} \sum_{i,j} m_{ij}\,
#   \min\big(\rho_{ij} \hat A_{ij},\ \operatorname{clip}(\rho_{ij}, 1-\epsilon, 1+\epsilon)\,\hat A_{ij}\big),\qquad
# \rho_{ij} = \frac{\pi_\theta(y_{ij}|x', y_{i,<j})}{\pi_{old}(y_{ij}|x', y_{i,<j})},$$
#
# where $\hat A$ is GAE (Eq. 2): $\hat A_t = \sum_l (\gamma\lambda)^l \delta_{t+l}$,
# $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$, with the Eq. 3 reward on the last token and
# $-\beta \log(\pi_\theta/\pi_{ref})$ on every token (Eq. 4). The critic's loss is not masked (GAE bootstraps
# through unexecuted tokens too). `apply_token_mask` is this masked mean; with TRL's GRPO the mask is its
# per-token mask, counted in the loss's normaliser. A row whose mask is all zero contributes zero, never NaN.

# %%
width = max(len(r["ids"]) for r in rollouts)
completion_mask = pad_masks([[1] * len(r["ids"]) for r in rollouts], width)
fgo = pad_masks([r["mask"] for r in rollouts], width)
per_token_loss = torch.ones(len(rollouts), width)
print("tokens in the loss without FGO:", int(completion_mask.sum()), "with FGO:", int((completion_mask * fgo).sum()))
print("loss (per-token 1.0):", float(apply_token_mask(per_token_loss, fgo, completion_mask)))
shares = table.groupby("rollout")[["tokens", "in loss"]].sum()
shares["masked share"] = 1 - shares["in loss"] / shares["tokens"]
display(shares)

# %% [markdown]
# ## Training with and without FGO
# Both runs start from the SFT model and optimise Eq. 4 with PPO; CCCS is off in both (notebook 03's
# question). Without FGO every completion token carries the gradient of its rollout's advantage; with FGO
# only the executed ones do (the executor runs with line coverage). The curves: training reward and pass
# rate, per difficulty, and the share of completion tokens FGO keeps (unexecuted code left untouched).

# %%
runs = []
if train:
    runs = run_ablation(prof, [algo], ["vanilla", "fgo"], seeds, runs_dir, sft_path)
    frame = show_ablation(runs, ["reward_mean", "pass_rate", "fgo_kept_share", "kl"],
                          title=f"{algo.upper()} with and without FGO ({prof.name})", png=out / "fgo_training.png")

# %%
summary = {
    "source": source,
    "rollouts": table.to_dict(orient="records"),
    "masked_share_by_kind": shares["masked share"].to_dict(),
    "compile_error_masks_all_ones": all(sum(r["mask"]) == len(r["mask"]) for r in rollouts
                                        if r["result"].verdict == Verdict.COMPILE_ERROR),
    "tokens_in_loss": {"without_fgo": int(completion_mask.sum()), "with_fgo": int((completion_mask * fgo).sum())},
    "runs": [str(r) for r in runs],
}
(out / "fgo_summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True, default=float))
print(json.dumps(summary["masked_share_by_kind"], indent=1))
print("wrote", out / "fgo_summary.json")
