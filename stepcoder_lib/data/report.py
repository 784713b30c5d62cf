"""The APPS+ cleaning report: counts per stage, reason and difficulty, statistics, and plots.

Everything here is a pure function of the cleaning result (no timestamps, no absolute paths,
sorted keys), so reruns write byte-identical ``report.json`` / ``report.md`` / PNGs. Plots are
built on ``matplotlib.figure.Figure`` (no pyplot state) and returned, so a notebook can display
them and ``write_report`` can save them.
"""

from __future__ import annotations

import io
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stepcoder_lib.data.problem import SCHEMA_VERSION, SPLITS

PLOTS: tuple[str, ...] = ("survivors_per_difficulty", "tests_per_problem", "solution_length",
                          "conditionals_per_solution")


_DIFFICULTY_ORDER = ("introductory", "interview", "competition")


def difficulty_order(names: Any) -> list[str]:
    """APPS difficulties easiest first, then any others alphabetically."""
    return sorted(set(names), key=lambda d: (_DIFFICULTY_ORDER.index(d) if d in _DIFFICULTY_ORDER else 99, d))


def _sorted_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_sorted_dict(v) if isinstance(v, Mapping) else v) for k, v in sorted(d.items())}


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


@dataclass
class CleaningReport:
    """What cleaning did: ``stages`` (in / kept / dropped per stage), ``drops[stage][reason][difficulty]``,
    difficulty counts at input and at the end, ``splits[split][difficulty]``, one row of statistics per
    kept problem (``per_problem``), and up to 3 example ids per (stage, reason).

    Sections added for real APPS: ``reason_sections`` (one per reason of ``cleaning.NEW_REASONS``:
    what it means, counts per difficulty, examples; present with zeros when nothing was dropped for
    it), ``split_decided_by[how][source split]`` (folder, hub split, split field, split argument),
    ``wrapped[difficulty]`` (kept problems whose canonical solution was written for APPS's harness and
    wrapped), ``time_limits[seconds][difficulty]`` (the per-problem training limit), and
    ``flagged[kind][difficulty]`` (kept problems with ``several answers`` evidence, when kept, or
    candidates that disagree).
    """

    source: str
    n_input: int
    settings: dict[str, Any]
    stages: list[dict[str, Any]]
    drops: dict[str, dict[str, dict[str, int]]]
    input_by_difficulty: dict[str, int]
    kept_by_difficulty: dict[str, int]
    splits: dict[str, dict[str, int]]
    per_problem: list[dict[str, Any]]
    examples: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    reason_sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_decided_by: dict[str, dict[str, int]] = field(default_factory=dict)
    wrapped: dict[str, int] = field(default_factory=dict)
    time_limits: dict[str, dict[str, int]] = field(default_factory=dict)
    flagged: dict[str, dict[str, int]] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_result(cls, result: Any, reasons: Mapping[str, str], new_reasons: Sequence[str]) -> CleaningReport:
        """From a ``cleaning.CleaningResult``, its vocabulary of reasons and the ones real APPS added
        (``cleaning.REASONS``, ``cleaning.NEW_REASONS``: passed in, so the report never imports the cleaning)."""
        drops: dict[str, dict[str, dict[str, int]]] = {}
        examples: dict[str, dict[str, list[str]]] = {}
        input_by_diff: dict[str, int] = {}
        decided: dict[str, dict[str, int]] = {}
        sections: dict[str, dict[str, Any]] = {
            r: {"what": reasons[r], "stage": "", "by_difficulty": {}, "total": 0, "examples": []} for r in new_reasons}
        for d in sorted(result.dropped, key=lambda d: d.id):
            _bump(drops.setdefault(d.stage, {}).setdefault(d.reason, {}), d.difficulty)
            ex = examples.setdefault(d.stage, {}).setdefault(d.reason, [])
            if len(ex) < 3:
                ex.append(d.id)
            _bump(input_by_diff, d.difficulty)
            _bump(decided.setdefault(d.split_source or "unknown", {}), d.source_split or "unknown")
            if d.reason in sections:
                sec = sections[d.reason]
                sec["stage"] = d.stage
                _bump(sec["by_difficulty"], d.difficulty)
                sec["total"] += 1
                if len(sec["examples"]) < 3:
                    sec["examples"].append(f"{d.id}: {d.detail}"[:200])
        kept_by_diff: dict[str, int] = {}
        splits: dict[str, dict[str, int]] = {s: {} for s in SPLITS}
        wrapped: dict[str, int] = {}
        limits: dict[str, dict[str, int]] = {}
        flagged: dict[str, dict[str, int]] = {}
        rows = []
        for p in sorted(result.problems, key=lambda p: p.id):
            meta = p.metadata
            _bump(kept_by_diff, p.difficulty)
            _bump(input_by_diff, p.difficulty)
            _bump(splits.setdefault(p.split or "unassigned", {}), p.difficulty)
            _bump(decided.setdefault(meta.get("split_source") or "unknown", {}), meta.get("source_split") or "unknown")
            if meta.get("canonical_wrapped"):
                _bump(wrapped, p.difficulty)
            if meta.get("time_limit_s") is not None:
                _bump(limits.setdefault(f"{meta['time_limit_s']:g}", {}), p.difficulty)
            if meta.get("several_answers"):
                _bump(flagged.setdefault("several valid answers (kept)", {}), p.difficulty)
            if "candidates_disagree" in meta.get("answer_evidence", {}):
                _bump(flagged.setdefault("candidates disagree", {}), p.difficulty)
            sol = p.canonical_solution or ""
            rows.append({
                "id": p.id, "difficulty": p.difficulty, "split": p.split, "format": p.format,
                "n_tests": len(p.tests), "solution_lines": len(sol.splitlines()),
                "solution_chars": len(sol), "conditionals": len(p.conditionals),
                "statement_words": len(p.statement.split()),
                "canonical_index": meta.get("canonical_index"),
                "outputs_unwrapped": meta.get("outputs_unwrapped"),
                "time_limit_s": meta.get("time_limit_s"),
                "canonical_wrapped": bool(meta.get("canonical_wrapped")),
                "several_answers": bool(meta.get("several_answers")),
            })
        return cls(
            source=result.source_name, n_input=result.n_input, settings=dict(result.settings),
            stages=[dict(s) for s in result.stage_counts], drops=_sorted_dict(drops),
            input_by_difficulty=_sorted_dict(input_by_diff), kept_by_difficulty=_sorted_dict(kept_by_diff),
            splits=_sorted_dict(splits), per_problem=rows, examples=_sorted_dict(examples),
            reason_sections=_sorted_dict(sections), split_decided_by=_sorted_dict(decided),
            wrapped=_sorted_dict(wrapped), time_limits=_sorted_dict(limits), flagged=_sorted_dict(flagged),
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CleaningReport:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @classmethod
    def load(cls, path: str | Path) -> CleaningReport:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    # ------------------------------------------------------------------ views
    @property
    def n_kept(self) -> int:
        return len(self.per_problem)

    @property
    def n_dropped(self) -> int:
        return self.n_input - self.n_kept

    def drops_by_reason(self) -> dict[str, int]:
        """Dropped problems per reason, all stages together."""
        out: dict[str, int] = {}
        for reasons in self.drops.values():
            for reason, cells in reasons.items():
                out[reason] = out.get(reason, 0) + sum(cells.values())
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, Any]:
        """Means the paper reports for APPS+ (words per problem, solution lines, tests per problem)."""
        rows = self.per_problem

        def mean(key: str) -> float | None:
            vals = [r[key] for r in rows]
            return round(statistics.fmean(vals), 2) if vals else None

        formats: dict[str, int] = {}
        for r in rows:
            formats[r["format"]] = formats.get(r["format"], 0) + 1
        return {
            "kept": self.n_kept, "dropped": self.n_dropped, "input": self.n_input,
            "mean_statement_words": mean("statement_words"), "mean_solution_lines": mean("solution_lines"),
            "mean_tests": mean("n_tests"), "mean_conditionals": mean("conditionals"),
            "formats": dict(sorted(formats.items())),
            "outputs_unwrapped": sum(1 for r in rows if r["outputs_unwrapped"] is True),
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["summary"] = self.summary()
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=1, ensure_ascii=False) + "\n"

    # ------------------------------------------------------------------ tables (pandas)
    def difficulties(self) -> list[str]:
        return difficulty_order(set(self.input_by_difficulty) | set(self.kept_by_difficulty))

    def _by_difficulty(self, rows: Mapping[str, Mapping[str, int]], index: str) -> Any:
        """A DataFrame: one row per key of ``rows``, one column per difficulty, and a total."""
        import pandas as pd  # lazy: importing this module needs no pandas

        diffs = self.difficulties()
        frame = pd.DataFrame([{index: k, **{d: int(v.get(d, 0)) for d in diffs}, "total": int(sum(v.values()))}
                              for k, v in rows.items()], columns=[index, *diffs, "total"])
        return frame.set_index(index)

    def stage_table(self) -> Any:
        """Problems in, kept and dropped per stage."""
        import pandas as pd  # lazy: importing this module needs no pandas

        return pd.DataFrame(self.stages, columns=["stage", "in", "kept", "dropped"]).set_index("stage")

    def drops_table(self) -> Any:
        """Dropped problems per (stage, reason), per difficulty, with example ids."""
        import pandas as pd  # lazy: importing this module needs no pandas

        diffs, order = self.difficulties(), [st["stage"] for st in self.stages]
        rows = [{"stage": stage, "reason": reason, **{d: int(cells.get(d, 0)) for d in diffs},
                 "total": int(sum(cells.values())), "examples": ", ".join(self.examples.get(stage, {}).get(reason, []))}
                for stage in sorted(self.drops, key=lambda x: (order.index(x) if x in order else len(order), x))
                for reason, cells in self.drops[stage].items()]
        frame = pd.DataFrame(rows, columns=["stage", "reason", *diffs, "total", "examples"])
        return frame.set_index(["stage", "reason"])

    def survivors_table(self) -> Any:
        """Problems read and kept per difficulty."""
        import pandas as pd  # lazy: importing this module needs no pandas

        rows = []
        for d in self.difficulties():
            n_in, n_k = self.input_by_difficulty.get(d, 0), self.kept_by_difficulty.get(d, 0)
            rows.append({"difficulty": d, "input": n_in, "kept": n_k,
                         "kept %": round(100.0 * n_k / n_in, 1) if n_in else None})
        return pd.DataFrame(rows, columns=["difficulty", "input", "kept", "kept %"]).set_index("difficulty")

    def splits_table(self) -> Any:
        """Kept problems per split and difficulty."""
        order = sorted(self.splits, key=lambda x: (SPLITS.index(x) if x in SPLITS else len(SPLITS), x))
        return self._by_difficulty({s: self.splits[s] for s in order}, "split")

    def reason_table(self, reason: str) -> Any:
        """The section of one reason of ``cleaning.NEW_REASONS``: dropped problems per difficulty."""
        sec = self.reason_sections.get(reason, {"by_difficulty": {}})
        return self._by_difficulty({reason: sec["by_difficulty"]}, "reason")

    def split_sources_table(self) -> Any:
        """How each problem's APPS split was decided (folder, hub split, split field, split argument)."""
        import pandas as pd  # lazy: importing this module needs no pandas

        splits = sorted({s for v in self.split_decided_by.values() for s in v})
        rows = [{"decided by": how, **{s: int(v.get(s, 0)) for s in splits}}
                for how, v in self.split_decided_by.items()]
        return pd.DataFrame(rows, columns=["decided by", *splits]).set_index("decided by")

    def time_limits_table(self) -> Any:
        """Kept problems per training time limit (seconds) and difficulty."""
        return self._by_difficulty({k: self.time_limits[k] for k in sorted(self.time_limits, key=float)},
                                   "time limit (s)")

    def standardised_table(self) -> Any:
        """Kept problems whose canonical solution was wrapped for APPS's harness, or flagged."""
        rows = {"canonical solution wrapped in main()": self.wrapped, **self.flagged}
        return self._by_difficulty(rows, "kept problems")

    # ------------------------------------------------------------------ Markdown
    def to_markdown(self) -> str:
        """The report as Markdown (what ``report.md`` holds): the tables above, rendered."""
        s = self.summary()
        lines = [
            f"# APPS+ cleaning report ({self.source})", "",
            f"{self.n_input} problems read, {self.n_kept} kept, {self.n_dropped} dropped.", "",
            "Settings: " + ", ".join(f"{k}={v}" for k, v in sorted(self.settings.items())), "",
            "## Stages", "", _markdown(self.stage_table()),
            "", "## Dropped problems by stage, reason and difficulty", "",
            _markdown(self.drops_table()) if self.drops else "None.",
        ]
        for reason, sec in self.reason_sections.items():
            what = sec["what"][:1].upper() + sec["what"][1:] + (f" (stage `{sec['stage']}`)." if sec["stage"] else ".")
            lines += ["", f"## Dropped: {reason}", "", what, "", _markdown(self.reason_table(reason))]
            lines += [f"- {ex}" for ex in sec["examples"]]
        lines += ["", "## How each problem's APPS split was decided", "",
                  _markdown(self.split_sources_table()) if self.split_decided_by else "No problems.",
                  "", "## Survivors per difficulty", "", _markdown(self.survivors_table()),
                  "", "## Splits", "", _markdown(self.splits_table()),
                  "", "## Training time limit per problem", "",
                  _markdown(self.time_limits_table()) if self.time_limits else "No problems kept.",
                  "", "## Kept problems: wrapped and flagged", "", _markdown(self.standardised_table()),
                  "", "## Kept problems", "",
                  f"- mean statement length: {s['mean_statement_words']} words (paper: 255.3)",
                  f"- mean canonical solution: {s['mean_solution_lines']} lines (paper: 21.9)",
                  f"- mean unit tests per problem: {s['mean_tests']} (paper: about 3)",
                  f"- mean conditional statements per solution: {s['mean_conditionals']}",
                  f"- formats: {s['formats']}; call-based outputs unwrapped: {s['outputs_unwrapped']}",
                  "", "## Plots", ""]
        lines += [f"![{name}]({name}.png)" for name in PLOTS]
        return "\n".join(lines) + "\n"


def _markdown(frame: Any) -> str:
    """A DataFrame as a Markdown table (pandas' own ``to_markdown`` needs ``tabulate``, not a dependency)."""
    frame = frame.reset_index()
    cell = lambda v: "" if v is None or v != v else str(v).replace("|", "\\|")
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind in "iuf" else "---" for c in frame.columns) + "|"
    return "\n".join([head, rule] + ["| " + " | ".join(cell(v) for v in row) + " |"
                                     for row in frame.itertuples(index=False)])


# ----------------------------------------------------------------------------- plots
def _figure(title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # lazy: importing this module needs no matplotlib

    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    return fig, ax


def plot_survivors(report: CleaningReport) -> Any:
    """Bars per difficulty: problems read vs kept."""
    fig, ax = _figure("Survivors per difficulty")
    diffs = difficulty_order(set(report.input_by_difficulty) | set(report.kept_by_difficulty))
    x = list(range(len(diffs)))
    n_in = [report.input_by_difficulty.get(d, 0) for d in diffs]
    n_k = [report.kept_by_difficulty.get(d, 0) for d in diffs]
    ax.bar([i - 0.2 for i in x], n_in, width=0.4, label="read", color="#bbbbbb")
    ax.bar([i + 0.2 for i in x], n_k, width=0.4, label="kept (APPS+)", color="#3a7dc9")
    for i, b in enumerate(n_k):
        ax.text(i + 0.2, b, str(b), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, diffs)
    ax.set_ylabel("problems")
    ax.legend()
    fig.tight_layout()
    return fig


def _hist(report: CleaningReport, key: str, title: str, xlabel: str) -> Any:
    fig, ax = _figure(title)
    diffs = difficulty_order(r["difficulty"] for r in report.per_problem)
    data = [[r[key] for r in report.per_problem if r["difficulty"] == d] for d in diffs]
    if any(data):
        hi = max(max(v) for v in data if v)
        bins = [i - 0.5 for i in range(0, hi + 2)] if hi < 40 else 30  # one bar per integer value
        ax.hist(data, bins=bins, stacked=True, label=diffs)
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no problems kept", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("problems")
    fig.tight_layout()
    return fig


def plot_tests_per_problem(report: CleaningReport) -> Any:
    return _hist(report, "n_tests", "Unit tests per problem", "unit tests")


def plot_solution_length(report: CleaningReport) -> Any:
    return _hist(report, "solution_lines", "Canonical solution length", "lines")


def plot_conditionals(report: CleaningReport) -> Any:
    return _hist(report, "conditionals", "Conditional statements per solution (CCCS start points)",
                 "conditional statements")


def make_plots(report: CleaningReport) -> dict[str, Any]:
    """All report figures by name (``PLOTS``)."""
    return {
        "survivors_per_difficulty": plot_survivors(report),
        "tests_per_problem": plot_tests_per_problem(report),
        "solution_length": plot_solution_length(report),
        "conditionals_per_solution": plot_conditionals(report),
    }


def figure_png(fig: Any) -> bytes:
    """A figure as PNG bytes (what ``write_report`` saves; ``IPython.display.Image`` shows it anywhere)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def write_report(report: CleaningReport, out_dir: str | Path, plots: bool = True) -> dict[str, Path]:
    """``report.json``, ``report.md`` and (optionally) one PNG per plot into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report_json": out / "report.json", "report_md": out / "report.md"}
    paths["report_json"].write_text(report.to_json(), encoding="utf-8")
    paths["report_md"].write_text(report.to_markdown(), encoding="utf-8")
    if plots:
        for name, fig in make_plots(report).items():
            path = out / f"{name}.png"
            path.write_bytes(figure_png(fig))
            paths[name] = path
    return paths

