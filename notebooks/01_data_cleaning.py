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
# # 01 · From APPS to APPS+: cleaning the training data
#
# **What it shows.** The paper's APPS+ cleaning (Sec. 4.1 of StepCoder), stage by stage, on APPS-format
# data: problems missing inputs, outputs or solutions are dropped; tests are standardised; candidate
# solutions are *run* and the first that passes every test becomes the canonical solution; its
# conditional statements (the CCCS start points) and starter code are extracted; the survivors are split
# train / validation / test per difficulty. Every dropped problem keeps its reason.
#
# **What it needs.** Nothing by default: it generates the offline benchmark (APPS folder layout, with a
# known share of injected defects in `truth.json`) and grades the cleaning against that truth. Give
# `apps_path` to clean real APPS instead (the original `train/`+`test/` folders, a `train.jsonl` from
# `codeparrot/apps`, or a hub id when the hub is reachable).
#
# **What it writes.** `out_dir/apps_plus.jsonl` (one problem per line, read by the later notebooks with
# `stepcoder_lib.data.load_apps_plus`), `dropped.jsonl`, `report.json`, `report.md` and the plots. A rerun
# on the same input writes byte-identical files.
#
# **How long.** `smoke` (40 problems): about 10 s. `tiny` (3,500 problems, 10-15 tests each): several
# minutes on 2 cores, nearly all of it running solutions in the sandboxed executor.

# %% tags=["parameters"]
apps_path = None  # None: generate the benchmark into artifacts/benchmark/<profile>; else an APPS source
profile = "tiny"  # benchmark size when apps_path is None: "smoke" or "tiny" (others fall back to tiny)
n_train = None  # None: the profile's number of generated training problems
n_test = None  # None: the profile's number of generated held-out test problems
seed = 0  # benchmark generation and the train/validation/test split
defect_rate = None  # None: the profile's share of generated problems with an injected defect
out_dir = None  # None: artifacts/apps_plus/<profile>
bench_dir = None  # where the benchmark is generated; None: artifacts/benchmark/<profile>
workers = None  # executor processes; None: all cores
max_candidates = 10  # solutions tried per problem before it is dropped
time_limit_s = 2.0  # CPU seconds per test when judging candidate solutions
respect_source_split = True  # keep the source's test/ folder as the test split (False: pool, as the paper)

# %%
import json
from collections import Counter
from pathlib import Path


from stepcoder_lib.data import repo_root  # noqa: E402  (installed into .venv by `make venv`)

ROOT = repo_root()

from IPython.display import Image, Markdown, display  # noqa: E402

from stepcoder_lib.data import clean_apps, grade_against_truth, load_apps_plus, make_plots  # noqa: E402
from stepcoder_lib.data.report import difficulty_order, figure_png  # noqa: E402
from stepcoder_lib.synthetic.generate import SIZES, generate_benchmark  # noqa: E402


def resolve(path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else ROOT / p


def table(rows, columns) -> Markdown:
    """A Markdown table (no pandas needed)."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return Markdown(head + "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows))


# %% [markdown]
# ## The input
# By default the generated benchmark: APPS-format problems in three difficulties (introductory,
# interview, competition), stdin and call-based (module functions and LeetCode-style `class Solution`),
# with defects injected into a known share of them (missing tests, a wrong expected output, solutions that
# do not compile, import a missing library or loop forever, no solutions at all).

# %%
truth = None
if apps_path is None:
    bench_cfg = dict(SIZES.get(profile, SIZES["tiny"]))
    if profile not in SIZES:
        print(f"profile {profile!r} has no benchmark size; using 'tiny'")
    for key, value in (("n_train", n_train), ("n_test", n_test), ("seed", seed), ("defect_rate", defect_rate)):
        if value is not None:
            bench_cfg[key] = value
    source = resolve(bench_dir) if bench_dir is not None else ROOT / "artifacts" / "benchmark" / profile
    truth = generate_benchmark(source, **bench_cfg, progress=True)
    print(f"generated benchmark in {source}: {bench_cfg}")
    display(table([{"split": s, **c} for s, c in truth["counts"].items()],
                  ["split", "clean", *[k for k in next(iter(truth["counts"].values())) if k != "clean"]]))
else:
    local = resolve(apps_path)  # relative paths are relative to the checkout
    hub_like = str(apps_path).startswith("hf://") or str(apps_path).count("/") == 1
    source = local if local.exists() or not hub_like else str(apps_path)  # "owner/name": a hub dataset id
    print(f"cleaning {source}")
out = resolve(out_dir) if out_dir is not None else ROOT / "artifacts" / "apps_plus" / profile

# %% [markdown]
# ## Running the pipeline
# One call runs the stages (`stepcoder_lib.data.cleaning`); the cells below look at what each one did.
# Stage 3 runs every problem's first candidate solution in one batch of the sandboxed executor, then the
# next candidate only for the problems still unresolved, up to `max_candidates`.

# %%
result = clean_apps(source, out, max_candidates=max_candidates, seed=seed, workers=workers,
                    time_limit_s=time_limit_s, respect_source_split=respect_source_split, progress=True)
report = result.report
display(table(result.stage_counts, ["stage", "in", "kept", "dropped"]))
print(f"{result.n_input} problems read, {len(result.problems)} kept; "
      f"seconds per stage: {result.timings}")


# %%
def show_drops(stage: str, n_examples: int = 3) -> None:
    drops = result.dropped_at(stage)
    counts = Counter(d.reason for d in drops)
    print(f"stage {stage!r}: {len(drops)} dropped " + (str(dict(sorted(counts.items()))) if drops else ""))
    examples = []
    for reason in sorted(counts):
        examples += [d for d in drops if d.reason == reason][:n_examples]
    if examples:
        display(table([{**d.to_dict(), "detail": d.detail[:160].replace("|", "\\|")} for d in examples],
                      ["id", "difficulty", "reason", "detail"]))


# %% [markdown]
# ## Stages 0 and 1: readable, and complete
# A corrupt JSON file or a statement that is not UTF-8 drops that problem (stage `read`), as does a
# problem without tests, inputs, outputs, solutions or statement (stage `require`). The run goes on.

# %%
show_drops("read")
show_drops("require")

# %% [markdown]
# ## Stage 2: standardised tests
# stdin tests become text with `\n` newlines (APPS sometimes stores lists of lines); call-based inputs
# are argument lists. Whether APPS's extra list around call-based outputs is removed is decided in stage 3,
# by what the canonical solution returns.

# %%
show_drops("standardise")
example = next((p for p in result.problems if p.format == "call"), result.problems[0] if result.problems else None)
if example is not None:
    print(f"{example.id} ({example.format}, fn_name={example.fn_name}): first test")
    print("  input :", json.dumps(example.tests.inputs[0])[:200])
    print("  output:", json.dumps(example.tests.outputs[0])[:200])
    print("  outputs unwrapped:", example.metadata.get("outputs_unwrapped"))

# %% [markdown]
# ## Stage 3: run the solutions
# The first candidate that passes every test becomes the canonical solution. A problem none of whose
# candidates passes is dropped with the first candidate's failure class: syntax error, missing library,
# runtime error, wrong output or timeout.

# %%
show_drops("execute")
idx = Counter(p.metadata.get("canonical_index") for p in result.problems)
print("canonical solution = candidate #k:", dict(sorted(idx.items())))
print("comparison rules that accepted the canonical solutions:",
      dict(sorted(Counter(r for p in result.problems for r, n in p.metadata.get("comparison_rules", {}).items()
                          for _ in range(n)).items())))

# %% [markdown]
# ## Stage 4: conditional statements and starter code
# The CCCS curriculum starts completions at conditional statements of the canonical solution; here are
# their positions for one problem (`>>` marks the lines where one starts). The starter code is the
# beginning of the canonical solution through the signature for call-based problems.

# %%
show_drops("extract")
richest = max(result.problems, key=lambda p: (len(p.conditionals), p.id), default=None)
if richest is not None:
    starts = {c["start_line"] for c in richest.conditionals}
    print(f"{richest.id} ({richest.difficulty}, {richest.format}): {len(richest.conditionals)} conditional statements")
    for i, line in enumerate(richest.canonical_solution.splitlines(), 1):
        print(f"{'>>' if i in starts else '  '} {i:3d} {line}")
    print("starter code:", repr(richest.starter_code))

# %% [markdown]
# ## Stage 5: the split, and the report
# Deterministic per difficulty (sha256 of seed and problem id). With `respect_source_split`, the source's
# own `test/` problems stay the held-out test split and the rest is cut 2:1 into train and validation
# (the paper's 50/25/25 overall); otherwise everything is pooled and cut 50/25/25.

# %%
display(table([{"split": s, **report.splits.get(s, {}), "total": sum(report.splits.get(s, {}).values())}
               for s in ("train", "validation", "test")],
              ["split", *difficulty_order(report.kept_by_difficulty), "total"]))
display(Markdown(report.to_markdown().split("## Kept problems", 1)[1].split("## Plots", 1)[0]))

# %%
for name, fig in make_plots(report).items():
    display(Image(figure_png(fig)))

# %% [markdown]
# ## Against the truth (generated benchmark only)
# Every injected defect must be dropped, for the matching reason, and every clean problem kept.

# %%
if truth is not None:
    grade = grade_against_truth(result, truth)
    print(f"defects caught: {grade['defects_caught']:.1%} of {grade['n_defects']}; "
          f"clean kept: {grade['clean_kept']:.1%} of {grade['n_clean']}; "
          f"reason agrees: {grade['reason_agrees']:.1%}")
    display(table([{"injected": k, **{r: n for r, n in v.items()}} for k, v in grade["confusion"].items()],
                  ["injected", *sorted({r for v in grade["confusion"].values() for r in v})]))
    for key in ("missed_defects", "lost_clean", "wrong_reason", "not_in_run"):
        if grade[key]:
            print(f"{key}: {grade[key][:10]}")
else:
    print("real data: no truth to grade against")

# %% [markdown]
# ## The files the later notebooks read

# %%
files = sorted(p.name for p in out.iterdir())
print(out, files)
reloaded = load_apps_plus(out / "apps_plus.jsonl")
assert len(reloaded) == len(result.problems)
print(f"apps_plus.jsonl: {len(reloaded)} problems; "
      + ", ".join(f"{s}: {sum(p.split == s for p in reloaded)}" for s in ("train", "validation", "test")))
