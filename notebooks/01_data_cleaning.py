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
# The paper's APPS+ cleaning (Sec. 4.1 of StepCoder), stage by stage: problems missing inputs, outputs or
# solutions are dropped; tests and solutions are standardised; candidate solutions are *run*, and the first
# that passes every test with headroom under the time limit becomes the canonical solution; problems whose
# answer is not unique are dropped; the canonical solution's conditional statements (the CCCS start points)
# are extracted; the survivors are split train / validation / test. Every dropped problem keeps its reason.
#
# By default it cleans the profile's synthetic dataset (APPS layout, a known share of injected defects in
# `truth.json`) into the APPS+ the later notebooks train on, and grades the cleaning against that truth; any
# cleaning knob below cleans a dataset of your own into `out_dir`, and `real_apps` / `apps_path` clean real APPS.
#
# *Needs* nothing · *writes* `apps_plus.jsonl` (read by `stepcoder_lib.data.load_apps_plus`), `dropped.jsonl`,
# `report.json`, `report.md` and plots, byte-identical on a rerun · *takes* about 15 s for `smoke`, several
# minutes for `tiny` on 2 cores (seconds when the profile's APPS+ is already built).

# %%
import json

import pandas as pd
from IPython.display import Image, Markdown, display

from stepcoder_lib.data import (
    NEW_REASONS,
    CleaningResult,
    clean_apps,
    grade_against_truth,
    load_apps_plus,
    make_plots,
    realdata_dir,
)
from stepcoder_lib.data.cleaning import choose_canonical, missing_field, stage_answers
from stepcoder_lib.data.prepare import clean_profile_data
from stepcoder_lib.data.report import figure_png
from stepcoder_lib.data.synthetic import SIZES, generate_benchmark
from stepcoder_lib.settings.chapters import show_source, what_we_saw
from stepcoder_lib.settings.paths import artifacts_dir, resolve
from stepcoder_lib.settings.profiles import get_profile

# %% tags=["parameters"]
apps_path = None  # an APPS source (folder, JSON lines, hub id); None: real_apps, else the synthetic dataset
real_apps = None  # a folder under the real-data directory ($STEPCODER_REALDATA or ../shared/realdata)
split = None  # APPS's split ("train"/"test") of a source that does not say it (e.g. MapCoder's JSON lines)
profile = "tiny"  # with no source and no knob set: clean (or reuse) this profile's own training data
# The knobs below: None keeps the default; setting any of them cleans a dataset of your own into out_dir.
n_train = None  # generated training problems (default: the profile's synthetic size)
n_test = None  # generated held-out test problems (default: the profile's synthetic size)
seed = None  # synthetic generation and the train/validation/test split (default 0)
defect_rate = None  # share of generated problems with an injected defect (default: the synthetic size's)
out_dir = None  # default: artifacts/apps_plus/custom-<profile>
bench_dir = None  # where the synthetic dataset is generated; default: artifacts/benchmark/<profile>
workers = None  # executor processes (default: all cores)
max_candidates = None  # solutions tried per problem before it is dropped (default 10)
time_limit_s = None  # training limit, CPU s per test (default: 1 s for synthetic data, 4 s for real APPS)
headroom = None  # candidates run under headroom x the limit; canonical ones should need < limit / headroom (4)
answer_checks = None  # candidates run after the canonical one, as evidence of several valid answers (2)
several_answers = None  # "drop" problems whose answer is not unique, or "keep" them flagged (default "drop")
respect_source_split = None  # the source's train problems are cut train/validation (default True)

# %%
pd.set_option("display.width", 160)  # plain-text tables (papermill logs, terminals) on one line


# %% [markdown]
# ## The input
# By default the profile's synthetic dataset: APPS-format problems in three difficulties (introductory,
# interview, competition), stdin and call-based (module functions and LeetCode-style `class Solution`), with
# defects injected into a known share of them (missing tests, a wrong expected output, solutions that do not
# compile, import a missing library or loop forever, no solutions at all).

# %%
knobs = {"n_train": n_train, "n_test": n_test, "seed": seed, "defect_rate": defect_rate, "out_dir": out_dir,
         "bench_dir": bench_dir, "max_candidates": max_candidates, "time_limit_s": time_limit_s,
         "headroom": headroom, "answer_checks": answer_checks, "several_answers": several_answers,
         "respect_source_split": respect_source_split}
custom = {k: v for k, v in knobs.items() if v is not None}
profile_data = apps_path is None and real_apps is None and not custom
truth = None
source = None
if apps_path is not None:
    local = resolve(apps_path)  # relative paths are relative to the checkout
    hub_like = str(apps_path).startswith("hf://") or str(apps_path).count("/") == 1
    source = local if local.exists() or not hub_like else str(apps_path)  # "owner/name": a hub dataset id
elif real_apps is not None:
    source = realdata_dir() / real_apps
    if not source.exists():
        print(f"real data {source} is absent (set STEPCODER_REALDATA): cleaning the synthetic dataset instead")
        source = None
if source is None and not profile_data:
    bench_cfg = dict(SIZES.get(profile, SIZES["tiny"]))
    if profile not in SIZES:
        print(f"profile {profile!r} has no synthetic size; using 'tiny'")
    bench_cfg.update({k: custom[k] for k in ("n_train", "n_test", "seed", "defect_rate") if k in custom})
    source = resolve(bench_dir) if bench_dir is not None else artifacts_dir() / "benchmark" / profile
    truth = generate_benchmark(source, **bench_cfg, progress=True)
    print(f"generated the synthetic dataset in {source}: {bench_cfg}")
    display(pd.DataFrame(truth["counts"]).T.rename_axis("split"))
if profile_data:
    print(f"cleaning the {profile!r} profile's own dataset (built once, then read back): {get_profile(profile).data}")
else:
    time_limit_s = time_limit_s if time_limit_s is not None else 1.0 if truth is not None else 4.0
    out = resolve(out_dir) if out_dir is not None else artifacts_dir() / "apps_plus" / f"custom-{profile}"
    print(f"cleaning {source} into {out}; training limit {time_limit_s:g} s")

# %% [markdown]
# ## The rule: what makes a problem APPS+
# A problem $p$ with unit tests $T_p$ and candidate solutions $s_1, \dots, s_n$ (in APPS's order) is kept when
# it is complete, one of its first $K$ candidates passes every test, and its answer is unique:
#
# $$p \in \text{APPS+} \iff \text{complete}(p)\ \wedge\ \exists k \le K:\ \text{pass}(s_k, T_p)\ \wedge\
#   \neg\,\text{several answers}(p),$$
#
# and its canonical solution is the first passing candidate that fits the time limit $\tau$ with headroom $h$
# (else the first passing one), the program CCCS cuts into stages:
#
# $$k^* = \min\{k : \text{pass}(s_k, T_p),\ \max_{t \in T_p} \text{cpu}(s_k, t) \le \tau / h\}.$$
#
# The three functions that decide it, as the pipeline runs them: completeness (stage 1), the canonical
# choice over the executor's results (stage 3), and the unique-answer check (stage 4).

# %%
display(show_source(missing_field, choose_canonical, stage_answers))

# %% [markdown]
# ## Running the pipeline
# One call runs the stages (`stepcoder_lib.data.cleaning`); the cells below look at what each one did.
# Stage 3 runs every problem's first candidate solution in one batch of the sandboxed executor, then the
# next candidate only for the problems still unresolved, up to `max_candidates`. For the profile's own data
# the call is `prepare_apps_plus`'s: it builds the cached folder once, and a rerun reads it back.

# %%
if profile_data:
    out, result = clean_profile_data(get_profile(profile), progress=True)
    if result is None:
        result = CleaningResult.load(out)
        print(f"reusing {out} (built earlier; delete it or call prepare_apps_plus(..., force=True) to rebuild)")
    truth_path = out / "benchmark" / "truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else None
else:
    cleaning_knobs = ("max_candidates", "seed", "headroom", "answer_checks", "several_answers", "respect_source_split")
    result = clean_apps(source, out, split=split, workers=workers, time_limit_s=time_limit_s, progress=True,
                        **{k: custom[k] for k in cleaning_knobs if k in custom})  # the rest: clean_apps' defaults
report = result.report
display(report.stage_table())
print(f"{result.n_input} problems read, {len(result.problems)} kept; seconds per stage: {result.timings or 'cached'}")
dropped = pd.DataFrame([d.to_dict() for d in result.dropped],
                       columns=["id", "stage", "reason", "detail", "difficulty", "source_split", "split_source"])


# %%
def show_drops(stage: str, n_examples: int = 3) -> None:
    """How many problems a stage dropped per reason, and a few of them."""
    here = dropped[dropped["stage"] == stage]
    print(f"stage {stage!r}: {len(here)} dropped")
    if len(here):
        display(here.groupby("reason").size().rename("problems").to_frame())
        display(here.groupby("reason").head(n_examples)[["id", "difficulty", "reason", "detail"]])


# %% [markdown]
# ## Stages 0 and 1: readable, and complete
# A corrupt JSON file, a statement that is not UTF-8 or a row in a form that cannot be used drops that
# problem (stage `read`), as does a problem without tests, inputs, outputs, solutions or statement
# (stage `require`). The run goes on. Each problem's APPS split comes from the source (its folder, the
# hub's split, a `split` field, or the `split` parameter), never from a file name:

# %%
show_drops("read")
show_drops("require")
display(report.split_sources_table())

# %% [markdown]
# ## Stage 2: standardised tests and solutions
# stdin tests become text with `\n` newlines (APPS sometimes stores lists of lines); call-based inputs
# are argument lists. Whether APPS's extra list around call-based outputs is removed is decided in stage 3,
# by what the canonical solution returns. APPS's harness runs stdin programs inside a function, so some
# solutions `return` at top level; such a solution (only when it does not compile as it is) becomes
# `def main(): ...` plus `main()`, a program that runs as it is stored.

# %%
show_drops("standardise")
example = next((p for p in result.problems if p.format == "call"), result.problems[0] if result.problems else None)
if example is not None:
    print(f"{example.id} ({example.format}, fn_name={example.fn_name}): first test")
    print("  input :", json.dumps(example.tests.inputs[0])[:200])
    print("  output:", json.dumps(example.tests.outputs[0])[:200])
    print("  outputs unwrapped:", example.metadata.get("outputs_unwrapped"))
wrapped = next((p for p in result.problems if p.metadata.get("canonical_wrapped")), None)
if wrapped is not None:
    print(f"\n{wrapped.id}: canonical solution written for APPS's harness, stored wrapped:\n")
    print(wrapped.canonical_solution[:600])

# %% [markdown]
# ## Stage 3: run the solutions
# Candidates run under `headroom` x the training limit, so a correct but slow solution passes on any
# machine, loaded or not. The canonical solution is the first passing candidate whose slowest test needs
# at most limit / `headroom` of CPU, else the first passing one; each problem records the limit training
# should use, in two coarse steps (measured times stay in memory: they differ run to run). A problem none
# of whose candidates passes is dropped with the first candidate's failure class.

# %%
show_drops("execute")
kept = pd.DataFrame(report.per_problem)
if len(kept):
    display(kept.groupby(["difficulty", "canonical_index"]).size().unstack(fill_value=0)
            .rename_axis(columns="canonical = candidate #"))
    rules = pd.DataFrame([p.metadata.get("comparison_rules", {}) for p in result.problems]).fillna(0).astype(int)
    display(rules.sum().rename("tests accepted").to_frame().rename_axis("comparison rule"))
    display(report.time_limits_table())
    if result.measured_cpu_s:  # measured in this run only (never stored: it differs run to run)
        display(pd.Series(result.measured_cpu_s, name="canonical solution, slowest test (CPU s)").describe()
                .to_frame())

# %% [markdown]
# ## Stage 4: several valid answers
# APPS ships no checker, so where a statement says "print any of them" or "in any order", a correct
# program that prints another valid answer would get the wrong-answer reward. Such problems, and those
# where candidates passing some tests print one test's expected tokens in two different other orders, are
# dropped by default (`several_answers="keep"` keeps them, flagged). A single reordering, or candidates
# that pass some tests and answer another differently, are only counted: near-miss wrong solutions do
# the same.

# %%
show_drops("answers")
display(report.standardised_table())

# %% [markdown]
# ## The new drop reasons, per difficulty
# One section per reason added for real APPS: an API that no longer exists (`from fractions import gcd`,
# `time.clock`), Python 2 code, several valid answers, rows in an APPS-derived form that cannot be used.

# %%
for reason in NEW_REASONS:
    section = report.reason_sections[reason]
    display(Markdown(f"**{reason}**: {section['what']} ({section['total']} dropped)"))
    display(report.reason_table(reason))
    for line in section["examples"]:
        print("  ", line)

# %% [markdown]
# ## Stage 5: conditional statements and starter code
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
# ## Stage 6: the split, and the report
# Deterministic per difficulty (sha256 of seed and problem id). Problems of the source's test split always
# stay test; with `respect_source_split` the rest is cut 2:1 into train and validation (the paper's
# 50/25/25 overall), otherwise 50/25/25.

# %%
display(report.splits_table())
display(report.survivors_table())
display(pd.Series(report.summary()).drop(["formats"]).rename("kept problems").to_frame())

# %%
for fig in make_plots(report).values():
    display(Image(figure_png(fig)))

# %% [markdown]
# ## Against the truth (synthetic dataset only)
# Every injected defect must be dropped, for the matching reason, and every clean problem kept.

# %%
if truth is not None:
    grade = grade_against_truth(result, truth)
    print(f"defects caught: {grade['defects_caught']:.1%} of {grade['n_defects']}; "
          f"clean kept: {grade['clean_kept']:.1%} of {grade['n_clean']}; "
          f"reason agrees: {grade['reason_agrees']:.1%}")
    display(pd.DataFrame(grade["confusion"]).T.fillna(0).astype(int).rename_axis("injected"))
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
display(pd.Series([p.split for p in reloaded], dtype="object").value_counts().rename("apps_plus.jsonl").to_frame())

# %% [markdown]
# ## What we saw

# %%
reasons = dropped.groupby("reason").size().sort_values(ascending=False)
splits_kept = pd.Series([p.split for p in reloaded], dtype="object").value_counts()
points = [f"{result.n_input} problems read from {'the ' + repr(profile) + ' profile' if profile_data else source}, "
          f"{len(result.problems)} kept as APPS+ ({len(result.problems) / max(result.n_input, 1):.0%}), "
          f"{len(dropped)} dropped, each with its stage and reason.",
          ("Drop reasons, most frequent first: " + ", ".join(f"{r} ({n})" for r, n in reasons.items()) + "."
           if len(reasons) else "No problem was dropped."),
          "Splits written to apps_plus.jsonl: " + ", ".join(f"{k} {v}" for k, v in splits_kept.items()) + "."]
if richest is not None:
    points.append(f"The richest canonical solution ({richest.id}) has {len(richest.conditionals)} conditional "
                  f"statements, i.e. {len(richest.conditionals)} CCCS start points.")
if truth is not None:
    points.append(f"Against the injected truth: {grade['defects_caught']:.1%} of {grade['n_defects']} defects caught, "
                  f"{grade['clean_kept']:.1%} of {grade['n_clean']} clean problems kept, the reason agreeing for "
                  f"{grade['reason_agrees']:.1%}.")
display(what_we_saw(points))
