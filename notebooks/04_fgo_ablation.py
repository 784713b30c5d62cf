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
# **What it shows.** StepCoder's second contribution (Sec. 3.3): completions are run on their unit tests
# in the sandboxed executor with line coverage; only the tokens of code the tests executed stay in the
# policy loss. For each problem, rollouts cut at a CCCS stage (the canonical prefix, grey) are judged;
# the HTML view colours executed tokens green and unexecuted ones red, as in the paper's figure; the
# masks show what a policy loss would and would not see, including a crash part-way and a compile error
# (whose mask is all ones, so that the paper's -1 reaches the model). The FGO-vs-no-FGO training ablation
# joins this notebook when training lands; this is the library code those trainers use
# (`stepcoder_lib.masking`).
#
# **What it needs.** Nothing by default: real APPS problems from `../shared/realdata/apps_train5` when
# present, else the synthetic dataset. `apps_plus` / `apps_path` choose other data.
#
# **What it writes.** `out_dir/fgo_summary.json` (verdicts, masked shares) and `fgo_view.html`.
#
# **How long.** About 10-20 s (tokenizer training on first use, then the executor).

# %% tags=["parameters"]
apps_plus = None  # path to APPS+ JSON lines (notebook 01's output); first choice when given
apps_path = None  # an APPS folder / file; used when apps_plus is None
use_realdata = True  # real APPS from realdata_dir()/apps_train5 ($STEPCODER_REALDATA or ../shared/realdata) when present
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
import json
from collections import defaultdict
from pathlib import Path


from stepcoder_lib.data import repo_root  # noqa: E402  (installed into .venv by `make venv`)

ROOT = repo_root()

import torch  # noqa: E402
from IPython.display import HTML, Markdown, display  # noqa: E402

from stepcoder_lib.curriculum import Curriculum  # noqa: E402
from stepcoder_lib.executor import Executor, ExecutorConfig, Job  # noqa: E402
from stepcoder_lib.masking import apply_token_mask, completion_offsets, line_status, mask_from_result  # noqa: E402
from stepcoder_lib.tokenizer import tiny_tokenizer  # noqa: E402
from stepcoder_lib.data.demo import demo_problems  # noqa: E402
from stepcoder_lib.viz import render_coverage_html  # noqa: E402

out = Path(out_dir).expanduser() if out_dir else ROOT / "artifacts" / "notebooks" / "04"
out = out if out.is_absolute() else ROOT / out
out.mkdir(parents=True, exist_ok=True)


def table(rows, columns) -> Markdown:
    """A Markdown table (no pandas needed)."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return Markdown(head + "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows))


# %% [markdown]
# ## Rollouts, judged with coverage
# No model is trained here yet, so the rollouts are scripted from the canonical solution, cut at a CCCS
# stage: the canonical completion itself; its first 60% (usually a compile error); and the canonical
# completion with a `raise` injected before the last completion statement its tests executed (a crash
# part-way). One batch through the sandboxed executor per round; each result carries its verdict, the
# paper's reward and the union of lines its tests executed (1-based lines of prefix + completion).

# %%
problems, source = demo_problems(apps_path, use_realdata, n_problems, seed, apps_plus=apps_plus)
print(f"{len(problems)} problems from {source}")
cur = Curriculum.from_problems(problems)


def inject_crash(program: str, prefix_len: int, executed: frozenset) -> str:
    """Insert a raise, at the same indentation, before the last executed statement of the completion."""
    tree = ast.parse(program)
    lines = program.splitlines(keepends=True)
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))
    targets = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n.lineno in executed
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
    tests = p.tests.__class__(p.tests.format, p.tests.inputs[:max_tests], p.tests.outputs[:max_tests],
                              p.tests.fn_name, p.tests.setup_code)
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
rows = []
for r in rollouts:
    res = r["result"]
    ids = tok(r["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    text, offsets = completion_offsets(tok, ids)
    r.update(ids=ids, offsets=offsets, mask=mask_from_result(res, r["prefix"], text, offsets))
    rows.append({"id": r["id"], "rollout": r["kind"], "stage": r["stage"], "verdict": res.verdict.value,
                 "reward": res.reward, "lines run": len(res.executed_lines),
                 "tokens": len(ids), "in loss": sum(r["mask"]),
                 "masked out": f"{1 - sum(r['mask']) / len(ids):.0%}"})
display(table(rows, list(rows[0])))

# %% [markdown]
# ## What the tests touched
# Grey: prefix (prompt, no gradient). Green: executed completion tokens (in the loss). Red: tokens the
# tests never executed (masked out). Token boundaries are the thin lines.

# %%
pages = []
for r in [r for r in rollouts if r["kind"] != "truncated"][: 2 * show]:
    res = r["result"]
    head = f"<h4>{r['id']} · {r['kind']} · {res.verdict.value} (reward {res.reward})</h4>"
    page = head + render_coverage_html(r["prefix"] + r["completion"], len(r["prefix"]), res.executed_lines,
                                       tokenizer=tok, compiled=res.verdict.value != "compile_error")
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
# `apply_token_mask` is the masked mean both trainers use (with TRL GRPO the FGO mask multiplies the
# `completion_mask`). A row whose mask is all zero contributes zero, never NaN.

# %%
L = max(len(r["ids"]) for r in rollouts)
per_token_loss = torch.ones(len(rollouts), L)
completion_mask = torch.tensor([[1] * len(r["ids"]) + [0] * (L - len(r["ids"])) for r in rollouts])
fgo = torch.tensor([r["mask"] + [0] * (L - len(r["mask"])) for r in rollouts])
print("tokens in the loss without FGO:", int(completion_mask.sum()), "with FGO:", int((completion_mask * fgo).sum()))
print("loss (per-token 1.0):", float(apply_token_mask(per_token_loss, fgo, completion_mask)))

by_kind = defaultdict(lambda: [0, 0])
for r in rollouts:
    by_kind[r["kind"]][0] += len(r["mask"]) - sum(r["mask"])
    by_kind[r["kind"]][1] += len(r["mask"])
summary = {
    "source": source,
    "rollouts": [{k: (v.value if hasattr(v, "value") else v) for k, v in row.items()} for row in rows],
    "masked_share_by_kind": {k: m / t for k, (m, t) in sorted(by_kind.items())},
    "compile_error_masks_all_ones": all(sum(r["mask"]) == len(r["mask"]) for r in rollouts
                                        if r["result"].verdict.value == "compile_error"),
    "tokens_in_loss": {"without_fgo": int(completion_mask.sum()), "with_fgo": int((completion_mask * fgo).sum())},
}
(out / "fgo_summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
print(json.dumps(summary["masked_share_by_kind"], indent=1))
print("wrote", out / "fgo_summary.json")
