"""What the CCCS and FGO notebooks show: coverage-coloured code, a curriculum explorer, progress plots.

Colours follow the paper's figure: the canonical prefix (prompt, never in the loss) is shaded
grey, executed completion code green, unexecuted completion code red. Rendering walks the
characters once, so tokens that share a character (byte pieces of one UTF-8 character) show it once.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stepcoder_lib.data.conditionals import DEFAULT_KINDS, line_offsets
from stepcoder_lib.method.curriculum import Curriculum, StagePlan
from stepcoder_lib.method.masking import line_status, token_mask
from stepcoder_lib.settings.profiles import CCCSConfig

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

STYLE = """<style>
.sc-code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;line-height:1.45;white-space:pre;
 padding:8px;border:1px solid #ddd;border-radius:4px;overflow-x:auto;background:#fff;color:#111}
.sc-prefix{background:#e4e4e4;color:#555}
.sc-exe{background:#c9f2c7}
.sc-unexe{background:#f6c6c6}
.sc-tok{border-right:1px solid rgba(0,0,0,.18)}
.sc-cut{color:#b35c00;font-weight:bold}
.sc-legend span{padding:1px 6px;margin-right:6px;font:11px sans-serif}
</style>"""

LEGEND = (
    '<div class="sc-legend"><span class="sc-prefix">prefix (prompt, no gradient)</span>'
    '<span class="sc-exe">executed (in the loss)</span><span class="sc-unexe">not executed (masked out)</span></div>'
)


def _spans(text: str, pieces: Iterable[tuple[int, int, str]]) -> str:
    """HTML of ``text`` with each (start, end, css class) piece wrapped; pieces sorted, may overlap."""
    out, cursor = [], 0
    for a, b, cls in pieces:
        a = max(a, cursor)
        if b <= a:
            continue
        if a > cursor:
            out.append(html.escape(text[cursor:a]))
        out.append(f'<span class="{cls}">{html.escape(text[a:b])}</span>')
        cursor = b
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def render_coverage_html(
    program: str,
    prefix_len: int,
    executed_lines: Collection[int],
    tokenizer: PreTrainedTokenizerBase | None = None,
    compiled: bool = True,
    legend: bool = True,
) -> str:
    """The program with the prefix shaded and completion tokens (or lines) coloured by the FGO mask."""
    completion = program[prefix_len:]
    pieces: list[tuple[int, int, str]] = [(0, prefix_len, "sc-prefix")] if prefix_len else []
    if tokenizer is not None:
        offsets = tokenizer(completion, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        mask = token_mask(program, prefix_len, offsets, executed_lines, compiled=compiled)
        pieces += [
            (prefix_len + a, prefix_len + b, f"sc-tok {'sc-exe' if m else 'sc-unexe'}")
            for (a, b), m in zip(offsets, mask)
        ]
    else:
        status = line_status(program, executed_lines) if compiled and executed_lines else None
        starts = line_offsets(program) + [len(program)]
        for i in range(len(starts) - 1):
            a, b = max(starts[i], prefix_len), starts[i + 1]
            if b > a:
                pieces.append((a, b, "sc-exe" if status is None or status[i] else "sc-unexe"))
    body = f'<div class="sc-code">{_spans(program, pieces)}</div>'
    return STYLE + (LEGEND if legend else "") + body


def render_stage_html(solution: str, plan: StagePlan, stage: int, task: str = "") -> str:
    """One curriculum stage: the prefix the model is given (grey) and what is left to complete, cut points marked."""
    cut = plan.cuts[stage]
    marks = sorted(set(plan.cuts[1:]))
    parts, cursor = [], 0
    for m in marks + [len(solution)]:
        cls = "sc-prefix" if m <= cut else ""
        seg = html.escape(solution[cursor:m])
        parts.append(f'<span class="{cls}">{seg}</span>' if cls else seg)
        if m < len(solution):
            parts.append(f'<span class="sc-cut" title="start of stage {plan.cuts.index(m)}">▸</span>')
        cursor = m
    head = (
        f"<p><b>stage {stage}</b> of {plan.n_stages} (0 = whole program) · E = {plan.n_conditionals} "
        f"conditional statements · stride {plan.stride} · prefix {cut} chars · "
        f"to complete {len(solution) - cut} chars</p>"
    )
    task_html = f"<details><summary>task</summary><pre>{html.escape(task[:3000])}</pre></details>" if task else ""
    return STYLE + head + task_html + f'<div class="sc-code">{"".join(parts)}</div>'


def _solutions(problems: Mapping[str, str] | Iterable[Any]) -> tuple[dict[str, str], dict[str, str]]:
    if isinstance(problems, Mapping):
        return dict(problems), {}
    sols, tasks = {}, {}
    p: Any
    for p in problems:
        if p.canonical_solution:
            sols[str(p.id)], tasks[str(p.id)] = p.canonical_solution, getattr(p, "statement", "")
    return sols, tasks


def curriculum_explorer(
    problems: Mapping[str, str] | Iterable[Any], config: CCCSConfig = CCCSConfig(),
    kinds: Sequence[str] = DEFAULT_KINDS,
) -> Any:
    """An ipywidgets explorer: pick a problem, slide through its stages, see prefix and what is left."""
    import ipywidgets as w  # lazy: importing this module needs no ipywidgets

    sols, tasks = _solutions(problems)
    if not sols:
        raise ValueError("no problem with a canonical solution to explore")
    cur = Curriculum(sols, config, kinds)
    pick = w.Dropdown(options=sorted(sols), description="problem")
    stage = w.IntSlider(description="stage", min=0, max=0, value=0, continuous_update=True)
    view = w.HTML()

    def show(*_: Any) -> None:
        pid = pick.value
        view.value = render_stage_html(sols[pid], cur.plans[pid], stage.value, tasks.get(pid, ""))

    def on_problem(*_: Any) -> None:
        plan = cur.plans[pick.value]
        stage.unobserve(show, "value")
        stage.max, stage.value = plan.n_stages - 1, plan.n_stages - 1  # where training starts
        stage.observe(show, "value")
        show()

    pick.observe(on_problem, "value")
    stage.observe(show, "value")
    on_problem()
    box = w.VBox([w.HBox([pick, stage]), view])
    box.curriculum = cur  # for notebooks and tests: the state behind the view
    return box


def stage_counts(history: Sequence[Mapping[str, int]]) -> list[list[int]]:
    """counts[t][c] = how many problems sit at stage c after step t."""
    top = max((s for snap in history for s in snap.values()), default=0)
    return [[sum(1 for s in snap.values() if s == c) for c in range(top + 1)] for snap in history]


def plot_curriculum_progress(history: Sequence[Mapping[str, int]], ax: Any = None, title: str = "CCCS progress") -> Any:
    """Stacked area of problems per stage over training steps (stage 0 = the full task)."""
    import matplotlib.pyplot as plt  # lazy: importing this module needs no matplotlib

    counts = stage_counts(history)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    steps = list(range(len(counts)))
    series = [[row[c] for row in counts] for c in range(len(counts[0]) if counts else 0)]
    ax.stackplot(
        steps,
        *series,
        labels=[f"stage {c}" for c in range(len(series))],
        colors=plt.cm.viridis([i / max(1, len(series) - 1) for i in range(len(series))]),
    )
    ax.set_xlabel("update step")
    ax.set_ylabel("problems")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    ax.margins(x=0)
    return ax.figure
