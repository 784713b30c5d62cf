"""What notebooks show: the coverage HTML is lossless and coloured by the mask; the explorer reacts."""

from __future__ import annotations

import html
import re

import matplotlib

matplotlib.use("Agg")

from stepcoder_lib.method.curriculum import Curriculum, remaining_share_policy, simulate
from stepcoder_lib.method.masking import token_mask
from stepcoder_lib.method.viz import (
    curriculum_explorer,
    plot_curriculum_progress,
    render_coverage_html,
    render_stage_html,
    stage_counts,
)
from stepcoder_lib.models.tokenizer import tiny_tokenizer
from stepcoder_lib.settings.profiles import CCCSConfig

PROGRAM = "def f(n):\n    if n > 2:\n        return '<big & é>'\n    return 0\nprint(f(1))\n"
PREFIX_LEN = PROGRAM.index("if n")
EXECUTED = {1, 2, 4, 5}


def code_div(page: str) -> str:
    return page[page.index('<div class="sc-code">'):]


def plain_text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def classed(fragment: str, cls: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf'<span class="[^"]*\b{cls}\b[^"]*">([^<]*)</span>', fragment)]


def test_token_view_is_lossless_and_follows_the_mask() -> None:
    tok = tiny_tokenizer()
    page = render_coverage_html(PROGRAM, PREFIX_LEN, EXECUTED, tokenizer=tok)
    body = code_div(page)
    assert plain_text(body) == PROGRAM  # every character once, escaped correctly ("<big & é>")
    assert "".join(classed(body, "sc-prefix")) == PROGRAM[:PREFIX_LEN]
    offsets = tok(PROGRAM[PREFIX_LEN:], add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    mask = token_mask(PROGRAM, PREFIX_LEN, offsets, EXECUTED)
    distinct = {}
    for (a, b), m in zip(offsets, mask):
        distinct[(a, b)] = m  # byte pieces of one character share a span and are drawn once
    assert len(classed(body, "sc-exe")) == sum(distinct.values())
    assert len(classed(body, "sc-unexe")) == len(distinct) - sum(distinct.values())
    assert "".join(classed(body, "sc-unexe")).strip().startswith("return '<big")
    assert "prefix (prompt, no gradient)" in page


def test_line_view_and_compile_error() -> None:
    body = code_div(render_coverage_html(PROGRAM, PREFIX_LEN, EXECUTED))
    assert plain_text(body) == PROGRAM
    assert classed(body, "sc-unexe") == ["        return '<big & é>'\n"]
    broken = "x = 1\nif x\n    y = 2\n"
    body = code_div(render_coverage_html(broken, 6, set(), compiled=False, legend=False))
    assert classed(body, "sc-unexe") == [] and "".join(classed(body, "sc-exe")) == broken[6:]


def test_stage_view_marks_cuts_and_shades_the_prefix() -> None:
    src = "".join(f"if v == {i}:\n    w = {i}\n" for i in range(9))  # E = 9: 3 stages, stride 3
    cur = Curriculum({"p": src})
    plan = cur.plans["p"]
    for stage in range(plan.n_stages):
        page = render_stage_html(src, plan, stage, task="Compute <w>.")
        body = code_div(page)
        assert plain_text(body).replace("▸", "") == src
        assert "".join(classed(body, "sc-prefix")) == cur.prefix_for("p", stage)
        assert body.count("sc-cut") == plan.n_stages - 1
        assert f"<b>stage {stage}</b>" in page and "Compute &lt;w&gt;." in page


def test_explorer_widget_reacts_to_problem_and_stage() -> None:
    problems = {"small": "if a:\n    b = 1\nelif c:\n    b = 2\n",
                "big": "".join(f"if v == {i}:\n    w = {i}\n" for i in range(16))}
    box = curriculum_explorer(problems, CCCSConfig())
    (pick, stage), view = box.children[0].children, box.children[1]
    assert pick.value == "big" and stage.max == 3 and stage.value == 3  # opens where training starts
    assert "<b>stage 3</b>" in view.value
    stage.value = 1
    assert "<b>stage 1</b>" in view.value
    assert "".join(classed(code_div(view.value), "sc-prefix")) == box.curriculum.prefix_for("big", 1)
    pick.value = "small"
    assert stage.max == 1 and stage.value == 1 and "E = 2" in view.value


def test_progress_plot_counts_every_problem_every_step() -> None:
    sols = {f"p{k}": "".join(f"if v == {i}:\n    w = {i}\n" for i in range(k * 5)) for k in range(1, 5)}
    cur = Curriculum(sols)
    history = simulate(cur, remaining_share_policy(0.4, 0.02), steps=40, seed=1)
    counts = stage_counts(history)
    assert all(sum(row) == len(sols) for row in counts)
    assert counts[0][0] < counts[-1][0]  # problems walk back to stage 0
    fig = plot_curriculum_progress(history)
    assert len(fig.axes[0].collections) == len(counts[0])
    assert history == simulate(Curriculum(sols), remaining_share_policy(0.4, 0.02), steps=40, seed=1)
