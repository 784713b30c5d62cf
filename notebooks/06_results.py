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
# # 06 · Results: the paper's table, reproduced
#
# **What it shows.** Every model of the ablation (base model, SFT, and per RL algorithm vanilla RL, FGO
# only, CCCS only, StepCoder) evaluated the paper's way: pass@1 from *n* samples per problem with the
# unbiased estimator of Chen et al. (temperature 0.2, top-p 0.95), per difficulty and overall on the
# APPS+ test split, then HumanEval and MBPP zero-shot where the profile runs them. Our numbers sit beside
# the paper's (Tables 1-2) as the mean over training seeds with a 95% interval from a bootstrap over test
# problems and training seeds; each ablation row's *paired* difference from vanilla RL and from SFT follows,
# with its interval, as a table and a forest plot. Then the figures: training reward per configuration,
# curriculum progress (CCCS), the share of tokens FGO keeps, the failure breakdown of the paper's Figure 4
# (compile errors vs runtime errors + wrong answers) and pass@k curves; how many problems, samples and seeds
# a ±3-point interval on StepCoder − vanilla RL needs; and last, each of the paper's claims read out from
# this run's numbers (supported, contradicted or inconclusive at 95%), with what we saw.
#
# **What it needs.** The base model and SFT baseline of notebook 02, the RL runs of notebooks 03-05 under
# `artifacts/runs/<profile>/` (`config.json`, `metrics.jsonl` and the model of each run; the layout is
# documented in `stepcoder_lib/training/runs.py`) and the APPS+ test split (notebook 01). Every evaluation is
# cached (`artifacts/eval_cache/`) under a key of the model's weights, the problems and prompts, the
# decoding and the executor settings: a re-run only re-renders.
#
# **What it writes.** `papermill_runs/<profile>/results/`: `table.md`, `table.csv`, `table.png`,
# `cells.csv` and `provenance.json` (every number with the run and cache entry that computed it),
# `differences.csv` and `differences.png` (paired differences), `claims.csv` and `claims.md` (the claims
# and what we saw), `power.csv`, `evaluations.csv`, the figures as PNG and their data as CSV.
#
# **How long.** Cached: seconds. Uncached, `smoke`: under a minute; `tiny` (100 problems x 4 samples,
# 10 models): about 2.5 minutes on 2 cores, more judging (every test of a wrong answer) than sampling.

# %% tags=["parameters"]
profile = "tiny"  # smoke | tiny | small | paper: sizes, decoding and limits come from stepcoder_lib.settings.profiles
overrides = {}  # dotted profile overrides, e.g. {"eval.n_samples": 8}
runs_dir = None  # None: artifacts/runs/<profile> (where notebooks 02-05 write their runs)
apps_plus = None  # None: the profile's APPS+ test split (notebook 01); else an APPS+ JSON-lines path
results_to = None  # where the table and figures go; None: papermill_runs/<profile>/results (make reproduce sets it)
include_base = True  # evaluate the base model (runs_dir/base when present, else the profile's base model)
base_model = None  # None: the profile's base model (the tiny model built by notebook 02); else a folder or hub id
include_sft = True  # evaluate the SFT baseline (runs_dir/sft when present, else the profile's, notebook 02)
sft_model = None  # None: the profile's SFT baseline; else a folder
configs = None  # None: every config found; else a list such as ["sft", "ppo-vanilla", "ppo-stepcoder"]
n_samples = None  # None: the profile's eval.n_samples (samples per problem)
ks = None  # None: the profile's eval.ks, the k of pass@k (each at most n_samples)
temperature = None  # None: the profile's (the paper's 0.2)
top_p = None  # None: the profile's (the paper's 0.95)
greedy = None  # None: the profile's; True: one greedy sample per problem
max_new_tokens = None  # None: the profile's
max_problems = None  # None: the profile's cap on test problems (stratified by difficulty)
seed = None  # None: the profile's sampling seed
batch_size = None  # None: the profile's generation batch
humaneval = None  # None: the profile decides (tiny/smoke skip: a model trained from scratch scores ~0)
mbpp = None  # None: the profile decides
mbpp_path = None  # None: realdata_dir()/mbpp/mbpp.jsonl when present, else the hub
max_zero_shot_problems = None  # None: the profile's cap for HumanEval and MBPP
use_cache = True  # False: regenerate every evaluation (and overwrite its cache entry)
workers = None  # executor processes; None: all cores
smooth = 1  # rolling mean window (steps) for the training curves
n_resamples = 4000  # bootstrap resamples per interval (stepcoder_lib/results/stats.py)
bootstrap_seed = None  # None: the evaluation's sampling seed; the same seed gives the same intervals
target_half_width = 3.0  # points: the half-width the power section sizes StepCoder - vanilla RL for

# %%
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, Markdown, display

from stepcoder_lib.data import DataUnavailable, load_apps_plus, load_humaneval, load_mbpp, realdata_dir
from stepcoder_lib.executor import Executor
from stepcoder_lib.results.evaluation import (
    EvalSettings,
    executor_config_from_profile,
    failure_breakdown_by_model,
    select_problems,
)
from stepcoder_lib.results.notebook import (
    by_model,
    collect_cells,
    default_base_source,
    default_sft_source,
    evaluate_entries,
    evaluations_frame,
    model_entries,
    results_dir,
    runs_frame,
    write_figures,
)
from stepcoder_lib.results.prompts import apps_format, humaneval_format, mbpp_format
from stepcoder_lib.results.stats import (
    BootstrapSettings,
    claims_table,
    describe_claims,
    design_for_half_width,
    paired_differences,
    pilot_variance,
    rows_from_evals,
    table_intervals,
)
from stepcoder_lib.results.table import build_table, display_differences, display_table, write_table
from stepcoder_lib.settings.paths import resolve
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.runs import CONFIGS, discover_runs, load_metrics, runs_root
from stepcoder_lib.training.validation import plot_validation, read_validation

started = time.time()
knobs = {"n_samples": n_samples, "ks": ks, "temperature": temperature, "top_p": top_p, "greedy": greedy,
         "max_new_tokens": max_new_tokens, "max_problems": max_problems, "seed": seed, "batch_size": batch_size,
         "humaneval": humaneval, "mbpp": mbpp, "max_zero_shot_problems": max_zero_shot_problems}
prof = get_profile(profile, {**overrides, **{f"eval.{k}": v for k, v in knobs.items() if v is not None}})
settings = EvalSettings.from_profile(prof)


runs_path = resolve(runs_dir) if runs_dir else runs_root(prof.name)
out = resolve(results_to) if results_to else results_dir(prof.name)
out.mkdir(parents=True, exist_ok=True)
print(f"profile {prof.name}: {prof.description}")
print(f"decoding: {settings.decoding()}  pass@k for k in {settings.ks}")
print(f"runs: {runs_path}\nresults: {out}")

# %% [markdown]
# ## The runs
# One folder per trained model; the table's rows are the configs, the spread comes from the seeds.

# %%
runs, run_notes = discover_runs(runs_path)
display(runs_frame(runs))
for note in run_notes:
    print("note:", note)

# %% [markdown]
# ## The problems
# The APPS+ test split (held out from training), capped per the profile with a draw that keeps each
# difficulty's share, so the overall column weighs the tiers as the full split does.

# %%
if apps_plus is not None:
    all_test = load_apps_plus(resolve(apps_plus), split="test")
else:
    from stepcoder_lib.data.prepare import load_splits  # notebook 01's APPS+ for this profile

    all_test = load_splits(prof)["test"]
test_problems = select_problems(all_test, prof.eval.max_problems, seed=settings.seed)
counts = {d: sum(p.difficulty == d for p in test_problems) for d in ("introductory", "interview", "competition")}
print(f"{len(test_problems)} of {len(all_test)} test problems: {counts}")
benchmarks = {"apps_plus": (test_problems, apps_format(prof))}

zero_shot_notes = []
if prof.eval.humaneval:
    he = select_problems(load_humaneval(), prof.eval.max_zero_shot_problems, seed=settings.seed)
    benchmarks["humaneval"] = (he, humaneval_format(prof.eval.zero_shot_style, prof.model.prompt_template))
else:
    zero_shot_notes.append(f"HumanEval skipped by the profile ({prof.name}: eval.humaneval=False)")
if prof.eval.mbpp:
    local = Path(mbpp_path) if mbpp_path else realdata_dir() / "mbpp" / "mbpp.jsonl"
    try:
        mb = load_mbpp(local if local.exists() else None, split=prof.eval.mbpp_split)
    except DataUnavailable as exc:
        zero_shot_notes.append(f"MBPP not evaluated: {exc}")
    else:
        mb = select_problems(mb, prof.eval.max_zero_shot_problems, seed=settings.seed)
        benchmarks["mbpp"] = (mb, mbpp_format(prof.eval.zero_shot_style, prof.model.prompt_template))
else:
    zero_shot_notes.append(f"MBPP skipped by the profile ({prof.name}: eval.mbpp=False)")
for name, (problems, fmt) in benchmarks.items():
    print(f"{name}: {len(problems)} problems, prompt format {fmt.name.split(':')[0]}")
for note in zero_shot_notes:
    print("note:", note)

# %% [markdown]
# ## Evaluating every model
# Sampling, then every sample judged in the sandboxed executor. Cached evaluations are read back instead
# (`from_cache`); `cache_key` names the entry under `artifacts/eval_cache/` holding each model's samples,
# programs and verdicts.

# %%
sources = {"base_source": (lambda p: str(base_model)) if base_model else default_base_source,
           "sft_source": (lambda p: str(sft_model)) if sft_model else default_sft_source}
entries, entry_notes = model_entries(prof, runs_path, include_base=include_base, include_sft=include_sft,
                                     configs=configs, **sources)
for note in entry_notes:
    print("note:", note)
if not entries:
    raise RuntimeError(f"no model to evaluate under {runs_path}: train first (notebooks 02-05, or give runs_dir). "
                       + " ".join(run_notes + entry_notes))
t0 = time.time()
with Executor(executor_config_from_profile(prof, workers=workers)) as executor:
    evals = evaluate_entries(entries, benchmarks, settings, executor, prof, use_cache=use_cache)
eval_seconds = time.time() - t0
evaluations = evaluations_frame(entries, evals, settings.ks)
evaluations.to_csv(out / "evaluations.csv", index=False, float_format="%.4f")
print(f"{len(evaluations)} evaluations in {eval_seconds:.0f}s ({int(evaluations.from_cache.sum())} from the cache)")
display(evaluations.drop(columns=["origin"]).round(2))

# %% [markdown]
# ## The table
# Rows and columns as the paper prints them; our pass@1 is the mean over training seeds, the paper's
# number beside it. The interval is a 95% bootstrap interval that resamples the test problems (within
# their difficulty tier, so the overall column keeps the tiers' shares) and, independently, the training
# seeds: both would change in a rerun (`stepcoder_lib/results/stats.py` says why this estimator and how well it
# covers on simulated data). A row with one seed has an interval over problems and samples only.
# `cells.csv` and `provenance.json` hold each seed's value with the run folder and cache entry behind it.
#
# With per-problem values $v_{s,i}$ (seed $s$ of $S$, problem $i$ of $N$; pass@1 in %), each replicate
# $b$ draws problem counts $c^{(b)}_i$ (multinomial within each tier) and seed weights $u^{(b)}_s$ and
# computes $\frac{1}{N}\sum_i c^{(b)}_i \bar v_{\cdot i} + \sum_s u^{(b)}_s \tilde e_s$, where
# $\tilde e_s$ is seed $s$'s effect shrunk so it holds no problem-level noise; the interval is the 2.5% and
# 97.5% quantiles of the replicates.

# %%
cells = collect_cells(entries, evals, k=1)
boot = BootstrapSettings(n_resamples=n_resamples, seed=settings.seed if bootstrap_seed is None else bootstrap_seed)
intervals = table_intervals(evals, settings=boot)
apps_rows = rows_from_evals(evals, "apps_plus")
differences = paired_differences(apps_rows, settings=boot)
table = build_table(cells, intervals)
notes = [(f"profile {prof.name}: {len(test_problems)} APPS+ test problems, {settings.n_samples} samples each, "
         f"decoding {json.dumps(settings.decoding())}; intervals from {boot.n_resamples} bootstrap resamples "
         f"(seed {boot.seed})."), *zero_shot_notes]
written = write_table(table, cells, out, notes=notes, differences=differences)
display(Markdown(display_table(table).to_markdown(index=False, disable_numparse=True)))
for n in notes:
    print("note:", n)

# %%
display(Image(written["figure"].read_bytes()))

# %% [markdown]
# ## Paired differences
# Each ablation row minus vanilla RL (same algorithm) and minus SFT, per difficulty and overall, in points
# of pass@1. Both rows were evaluated on the same problems with the same samples per problem, so the
# bootstrap draws the *same* problems for both (what a problem's difficulty does to both rows cancels) and
# each row's own seeds; an interval that does not cross 0 is a difference at 95%.

# %%
display(Markdown(display_differences(differences).to_markdown(index=False, disable_numparse=True)))
if "differences_figure" in written:
    display(Image(written["differences_figure"].read_bytes()))

# %% [markdown]
# ## Figures
# Training curves come from the runs' `metrics.jsonl` (mean over seeds, min-max band); the failure
# breakdown and pass@k from the cached verdicts.

# %%
metrics = load_metrics(runs)
grouped = by_model(entries, evals, "apps_plus")
figure_paths = write_figures(metrics, grouped, settings.ks, out, smooth=smooth)
for name, path in figure_paths.items():
    display(Markdown(f"**{name.replace('_', ' ')}** (`{path.name}`)"))
    display(Image(path.read_bytes()))

# %% [markdown]
# ## Held-out pass@1 during RL
# The training curves rise on the problems RL trains on whether or not the model gets better at the
# task. Every `rl.validation_every` steps each run measures pass@1 on a fixed slice of the
# **validation** split (never the test split) at the evaluation decoding
# (`stepcoder_lib/training/validation.py`); step 0 is the SFT model, the dashed line. A curve under
# it means RL made the model worse on problems it did not train on; a curve that peaks early and
# falls is over-training. Settings (steps, learning rates, pool) are chosen on these curves.

# %%
validation = read_validation([r.path for r in runs])
if len(validation):
    fig = plot_validation(validation)
    fig.savefig(out / "validation_curves.png", dpi=120, bbox_inches="tight")
    validation.drop(columns=["run"]).to_csv(out / "validation.csv", index=False, float_format="%.4f")
    plt.show()
    sft_level = float(validation.loc[validation.step == 0, "pass@1"].iloc[0])
    last = validation.loc[validation.groupby(["label", "seed"])["step"].idxmax()]
    at_end = last.groupby("label")["pass@1"].agg(["mean", "min", "max"]).mul(100)
    at_end["SFT"] = 100 * sft_level
    display(at_end.round(1).rename(columns={"mean": "pass@1 at the last step (mean over seeds)"}))
else:
    at_end = None
    print("no run measured held-out pass@1 (rl.validation_every = 0)")

# %% [markdown]
# ### Failures by kind (the data of the failure-breakdown figure)

# %%
breakdown = failure_breakdown_by_model(grouped)
display(breakdown.pivot_table(index=["model", "difficulty"], columns="family", values="share", sort=False).round(1))

# %% [markdown]
# ## Power: how many problems, samples and seeds a ±3-point difference needs
# The paper's StepCoder − vanilla PPO is +4.4 points overall; to see an effect of that size the interval
# of the difference must be about ±3 points or narrower. `stats.pilot_variance` splits this run's
# difference into variance components (between problems, Bernoulli sampling, seeds) and
# `stats.design_for_half_width` gives, for each number of samples per problem and seeds per row, the
# fewest test problems that reach the target: this run serves as the pilot for the next.

# %%
algo_rows = [a for a in ("ppo", "grpo") if any(c.startswith(f"{a}-") for c in apps_rows)]
power = None
for algo in algo_rows[:1]:
    row, base = f"{algo}-stepcoder", f"{algo}-vanilla"
    if row in apps_rows and base in apps_rows:
        pilot = pilot_variance(apps_rows[row], apps_rows[base])
        power = design_for_half_width(pilot, target=target_half_width)
        power.to_csv(out / "power.csv", index=False, float_format="%.3f")
        reached = differences[(differences.config == row) & (differences.baseline == base)
                              & (differences.column == "overall")].iloc[0]
        print(f"{CONFIGS[row]} − {CONFIGS[base]} overall: {reached.difference:+.1f} "
              f"[{reached.low:+.1f}, {reached.high:+.1f}], half-width {(reached.high - reached.low) / 2:.1f} "
              f"points with {pilot.problems} problems x {pilot.samples} samples x {pilot.seeds} seeds")
        print(f"variance components (points²): between problems {pilot.between_problems:.1f}, "
              f"sampling {pilot.sampling:.0f}, seeds {pilot.seed_a:.1f} and {pilot.seed_b:.1f}. {pilot.note}")
        display(power)
if power is None:
    print("no StepCoder and vanilla RL rows in this run: no pilot for the power helper")

# %% [markdown]
# ## Where everything is

# %%
summary = {"profile": prof.name, "decoding": settings.decoding(), "ks": list(settings.ks),
           "problems": {name: len(p) for name, (p, _) in benchmarks.items()}, "models": len(entries),
           "evaluations": len(evaluations), "from_cache": int(evaluations.from_cache.sum()),
           "evaluation_s": round(eval_seconds, 1), "notebook_s": round(time.time() - started, 1)}
(out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
print(f"table:   {written['markdown']}  (and {written['csv'].name}, {written['figure'].name})")
print(f"cells:   {written['cells']}  (provenance: {written['provenance'].name})")
print(f"figures: {', '.join(str(p) for p in figure_paths.values())}")
print(f"done in {time.time() - started:.0f}s")

# %% [markdown]
# ## The paper's claims, read out from this run
# Each claim is a paired difference of two rows (or, for "most on the hardest tier", the gain on
# competition minus the gain on the other tiers) with its 95% interval: **supported** when the interval
# lies on the claimed side of 0, **contradicted** when it lies on the other side, **inconclusive** when it
# holds 0, **not run** when a row it needs was not trained in this run. Nothing here is written by hand:
# it is recomputed from the cached verdicts, for any profile and any rerun.

# %%
claims = pd.concat([claims_table(apps_rows, algo, settings=boot) for algo in algo_rows or ["ppo"]],
                   ignore_index=True)
claims.to_csv(out / "claims.csv", index=False, float_format="%.4f")
claims.round(2)

# %% [markdown]
# ### What we saw

# %%
what_we_saw = describe_claims(claims, CONFIGS, boot.confidence)
if power is not None and pilot.sampling == 0:
    what_we_saw += ("\n- Power: every sample of StepCoder and vanilla RL had the same verdict on each problem (pass "
                    "rates all 0% or 100%), so this run has no variance to size a design from.")
elif power is not None:
    fits = power.dropna(subset=["problems"])
    cheapest = fits.loc[fits.generations.astype(float).idxmin()] if len(fits) else None
    what_we_saw += (f"\n- Power: this run's StepCoder − vanilla RL interval has half-width "
                    f"{(reached.high - reached.low) / 2:.1f} points overall; ±{target_half_width:g} needs "
                    + (f"about {int(cheapest.problems)} problems x {int(cheapest.samples)} samples x "
                       f"{int(cheapest.seeds)} seeds (the cheapest design in power.csv)." if cheapest is not None
                       else "more seeds than power.csv tries (the seed variance alone exceeds the target)."))
if at_end is not None:
    above = [label for label, r in at_end.iterrows() if r.iloc[0] >= r["SFT"]]
    what_we_saw += ("\n- Held-out (validation) pass@1 at the last RL step: "
                    + ", ".join(f"{label} {r.iloc[0]:.1f}" for label, r in at_end.iterrows())
                    + f" against SFT {at_end['SFT'].iloc[0]:.1f}; {len(above)} of {len(at_end)} settings end at or "
                    "above the SFT model (validation_curves.png).")
(out / "claims.md").write_text(claims.to_markdown(index=False) + "\n\n" + what_we_saw + "\n", encoding="utf-8")
display(Markdown(what_we_saw))
