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
# StepCoder's second contribution (Sec. 3.3): the policy loss keeps only the tokens of code the unit tests
# actually executed. We judge rollouts with line coverage, turn the covered lines into a token mask, show
# where the mask enters PPO's loss, and then train from the SFT model with and without FGO (the paper's
# "vanilla PPO" against "w/o CCCS").
#
# *Needs* the profile's APPS+ (01) and SFT model (02), built and cached on first use · *writes*
# `out_dir/fgo_summary.json`, `fgo_view.html`, `fgo_training.png`, runs under `runs_dir/<profile>/` · *takes*
# 10-20 s for the mechanics, plus the profile's training runs (`tiny`: about a minute each on 2 cores).

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
from stepcoder_lib.method.masking import (
    apply_token_mask,
    completion_offsets,
    line_status,
    mask_from_result,
    pad_masks,
    token_mask,
)
from stepcoder_lib.method.reward import reward_of
from stepcoder_lib.method.viz import render_coverage_html
from stepcoder_lib.models.tokenizer import tiny_tokenizer
from stepcoder_lib.settings.chapters import show_source, what_we_saw
from stepcoder_lib.settings.paths import notebook_output_dir
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training import ppo
from stepcoder_lib.training.runplots import probe_table, show_ablation
from stepcoder_lib.training.train import run_ablation

prof = get_profile(profile, overrides)
out = notebook_output_dir(out_dir, "04")

# %% [markdown]
# ## Rollouts, judged with coverage
# The mechanics use scripted rollouts, cut at a CCCS stage, so that every case appears: the canonical
# completion itself; its first 60% (usually a compile error); and the canonical completion with a `raise`
# injected before the last completion statement its tests executed (a crash part-way). One batch through
# the sandboxed executor per round; each result carries its verdict (the paper's reward is `method.reward`'s,
# from it) and the union of lines its tests executed (1-based lines of prefix + completion).

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

# %% [markdown]
# ## From covered lines to a token mask
# With $\mathcal{L}_i$ the lines of rollout $i$'s program (prefix + completion) that any of its tests executed,
# completion token $j$ (characters $[a_j, b_j)$ of the completion) is kept when its span touches one of them:
#
# $$m_{ij} = \begin{cases} 1 & \text{if } \operatorname{lines}(a_j, b_j) \cap \mathcal{L}_i \ne \emptyset
#   \ \text{or the program did not compile}\\ 0 & \text{otherwise.}\end{cases}$$
#
# A compile error executes nothing, yet its -1 must reach the model, so its mask is all ones. `token_mask`
# implements the rule (line status first, then a prefix sum over lines per token):

# %%
display(show_source(token_mask))

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
# through unexecuted tokens too). `ppo.policy_loss` computes the clipped surrogate as a token mean over the
# mask it is given, the completion mask times the FGO mask (`PPOBatch.policy_mask`); `apply_token_mask` is
# the same masked mean for GRPO, where the mask is TRL's per-token mask, counted in the loss's normaliser. A
# row whose mask is all zero contributes zero, never NaN.

# %%
display(show_source(ppo.PPOBatch.policy_mask.fget, ppo.policy_loss, apply_token_mask))

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

# %% [markdown]
# ## What we saw

# %%
by_kind = shares["masked share"]
compile_errors = [r for r in rollouts if r["result"].verdict == Verdict.COMPILE_ERROR]
points = [f"{len(rollouts)} scripted rollouts on {len(problems)} problems ({source}) were judged with coverage: "
          + ", ".join(f"{n} {v}" for v, n in table["verdict"].value_counts().items()) + ".",
          "FGO masked out " + ", ".join(f"{share:.0%} of the {kind} rollouts' tokens"
                                        for kind, share in by_kind.items())
          + f"; over the batch {summary['tokens_in_loss']['with_fgo']} of {summary['tokens_in_loss']['without_fgo']} "
          "completion tokens stay in the policy loss.",
          f"{len(compile_errors)} compile errors kept every token in the loss (all-ones mask): "
          f"{summary['compile_error_masks_all_ones']}."]
if runs:
    kept = (frame.sort_values("step").groupby("label")["fgo_kept_share"].last().dropna()
            if "fgo_kept_share" in frame else pd.Series(dtype=float))
    probes = probe_table(runs)
    points.append(f"{len(runs)} training runs ({algo.upper()}, vanilla and FGO, seeds {sorted(set(frame['seed']))})"
                  + ("; at the last step FGO kept " + ", ".join(f"{v:.0%} of completion tokens ({k})"
                                                            for k, v in kept.items()) if len(kept) else "") + ".")
    if len(probes):
        points.append("Whole-program pass rate on the fixed probe problems, SFT start -> trained end: "
                      + "; ".join(f"{run} seed {seed}: {r['pass_rate SFT']:.0%} -> {r['pass_rate trained']:.0%}"
                                  for (run, seed), r in probes.iterrows())
                      + ". Pass@1 on held-out problems is notebook 06's.")
display(what_we_saw(points))
