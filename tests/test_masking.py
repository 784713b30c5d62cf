"""FGO: executed lines -> executed-token mask, every open case by hand, properties over programs."""

from __future__ import annotations

import functools
import random
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from program_strategies import programs

from stepcoder_lib.curriculum import Curriculum, line_offsets
from stepcoder_lib.executor import run_program
from stepcoder_lib.executor.results import ExecutionResult, Verdict
from stepcoder_lib.executor.tracing import LineTracer
from stepcoder_lib.masking import (
    apply_token_mask,
    completion_offsets,
    line_status,
    mask_from_result,
    pad_masks,
    token_mask,
)
from stepcoder_lib.testcases import TestCases
from stepcoder_lib.tokenizer import stdlib_corpus, tiny_tokenizer, train_code_tokenizer

NO_INPUT = TestCases("stdin", ("",), ("",))


@functools.cache
def unsplit_tokenizer():
    """Second style: BPE without pre-tokenisation, so tokens cross spaces and line breaks."""
    return train_code_tokenizer(stdlib_corpus(150_000), vocab_size=1024, pretokenize=False)


def traced_lines(program: str) -> frozenset[int]:
    """Executed lines measured in-process with the executor's own tracer (fast, for properties)."""
    name = "<fgo-test-program>"
    code = compile(program, name, "exec")
    tracer = LineTracer(name)
    tracer.start()
    try:
        exec(code, {"__name__": "__main__"})
    except Exception:
        pass
    finally:
        lines = tracer.stop()
    return frozenset(lines)


def status_string(program: str, executed: set[int]) -> str:
    return "".join("1" if s else "0" for s in line_status(program, executed))


def words(text: str) -> list[tuple[int, int]]:
    """A hand-checkable tokenizer: identifiers/numbers, single symbols, and `\\n`+indent runs."""
    return [m.span() for m in re.finditer(r"\n[ ]*|[ ]+|\w+|[^\w\s]", text)]


# ---- each open case, by hand: program, the executed lines Python 3.11 reports, expected status --

HAND_CASES = {
    "multi_line_statement": (
        "x = 1\n"
        "y = (1 +\n"
        "     2 +\n"
        "     abs(-3))\n"
        "z = (\n"
        "    1,\n"
        "    2,\n"
        ")\n"
        "w = \"\"\"a\n"
        "b\"\"\"\n",
        {1, 2, 4, 5, 9},  # 1 + 2 is folded: line 3 fires no event; nor do 6-8 (one constant) or 10
        "1111111111" + "1",
    ),
    "else_try_finally": (
        "x = 0\n"
        "if x:\n"
        "    y = 1\n"
        "else:\n"
        "    y = 2\n"
        "try:\n"
        "    y = 3\n"
        "except ValueError:\n"
        "    y = 4\n"
        "else:\n"
        "    y = 5\n"
        "finally:\n"
        "    y = 6\n"
        "for i in range(0):\n"
        "    pass\n"
        "else:\n"
        "    pass\n",
        {1, 2, 5, 6, 7, 11, 13, 14, 17},
        "11011110011111011" + "1",
    ),
    "decorators_def_class": (
        "def deco(f):\n"
        "    return f\n"
        "@deco\n"
        "def used(a,\n"
        "         b=1):\n"
        "    return a\n"
        "@deco\n"
        "def unused():\n"
        "    return 0\n"
        "class C:\n"
        "    k = 1\n"
        "    def m(self):\n"
        "        return 2\n"
        "used(1)\n",
        {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 14},
        "11111111011101" + "1",
    ),
    "comments_and_blank_lines": (
        "# leading comment\n"
        "\n"
        "x = 1\n"
        "if x > 5:\n"
        "    # explains the branch\n"
        "\n"
        "    y = 2\n"
        "z = 3  # trailing comment\n"
        "def never():\n"
        "    # inside an uncalled function\n"
        "    return 1\n"
        "# final comment\n",
        {3, 4, 8, 9},
        "111100011000" + "0",
    ),
    "crashed_part_way": (
        "a = 1\n"
        "b = a // 0\n"
        "c = 2\n"
        "# after\n",
        {1, 2},
        "1100" + "0",
    ),
    "statements_without_bytecode": (
        "def f(x):\n"
        "    \"\"\"Doc\n"
        "    string.\"\"\"\n"
        "    global g\n"
        "    y: int\n"
        "    g = x\n"
        "def h():\n"
        "    \"\"\"never called\"\"\"\n"
        "    global g\n"
        "    return g\n"
        "f(1)\n",
        {1, 6, 7, 11},  # docstring, global and a bare annotation in a function fire nothing
        "11111110001" + "1",
    ),
    "keyword_line_fires_itself_try_311": (
        "try:\n"
        "    import nothing_here_xyz\n"
        "except ImportError:\n"
        "    ok = True\n",
        {1, 2, 3, 4},
        "1111" + "1",
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_hand_case_line_status(name: str) -> None:
    program, executed, expected = HAND_CASES[name]
    assert status_string(program, executed) == expected


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_hand_case_executed_lines_are_what_the_tracer_reports(name: str) -> None:
    """The executed sets above are real: the executor's tracer reports exactly them."""
    program, executed, _ = HAND_CASES[name]
    assert traced_lines(program) == frozenset(executed)


def test_real_executor_reports_the_same_lines(cov_executor) -> None:
    from stepcoder_lib.executor import Job

    names = sorted(HAND_CASES)
    results = cov_executor.run_batch([Job(HAND_CASES[n][0], NO_INPUT, problem_id=n) for n in names], progress=False)
    for n, r in zip(names, results):
        assert r.coverage and r.executed_lines == frozenset(HAND_CASES[n][1]), (n, r.summary())


def test_straddling_tokens_take_any_touched_line() -> None:
    program = "if 0:\n    a = 1\nb = 2\n"  # lines 1 and 3 run, 2 does not
    offsets = [(0, 5), (5, 10), (10, 15), (15, 16), (16, 17), (17, 21), (21, 22)]
    # tokens:   "if 0:" "\n    " "a = 1" "\n"    "b"      " = 2"    "\n"
    assert [program[a:b] for a, b in offsets] == ["if 0:", "\n    ", "a = 1", "\n", "b", " = 2", "\n"]
    assert token_mask(program, 0, offsets, {1, 3}) == [1, 1, 0, 0, 1, 1, 1]
    # one token swallowing the unexecuted line and the next: touches line 3, so it is credited
    assert token_mask(program, 0, [(0, 5), (5, 17), (17, 23)], {1, 3}) == [1, 1, 1]
    assert token_mask(program, 0, [(0, 5), (5, 15)], {1, 3}) == [1, 1]  # touches line 1's "\n"
    assert token_mask(program, 0, [(6, 15)], {1, 3}) == [0]  # entirely on line 2
    assert token_mask(program, 0, [(10, 15), (15, 17)], {1, 3}) == [0, 1]  # "\nb": from unexecuted line 2 into 3
    assert token_mask(program, 0, [(10, 15), (15, 17)], {1}) == [0, 0]


def test_completion_starting_mid_line_after_the_prefix() -> None:
    prefix = "def f(n):\n    "  # cut at the `if` keyword: the prefix ends in indentation
    completion = "if n > 2:\n        return 1\n    return 0\nprint(f(1))\n"
    program = prefix + completion
    executed = traced_lines(program)
    assert executed == {1, 2, 4, 5}
    offsets = words(completion)
    got = token_mask(program, len(prefix), offsets, executed)
    by_token = [(completion[a:b], m) for (a, b), m in zip(offsets, got)]
    assert by_token == [
        ("if", 1), (" ", 1), ("n", 1), (" ", 1), (">", 1), (" ", 1), ("2", 1), (":", 1),
        ("\n        ", 1), ("return", 0), (" ", 0), ("1", 0),
        ("\n    ", 1), ("return", 1), (" ", 1), ("0", 1),
        ("\n", 1), ("print", 1), ("(", 1), ("f", 1), ("(", 1), ("1", 1), (")", 1), (")", 1), ("\n", 1),
    ]
    # the same completion when f is never called: the header line (shared with the prefix) did not run
    program2 = prefix + "if n:\n        return 1\n"
    assert token_mask(program2, len(prefix), words("if n:\n        return 1\n"), traced_lines(program2)) == [0] * 9


def test_compile_error_means_all_ones_and_needs_no_coverage() -> None:
    prefix, completion = "x = int('1')\n", "if x\n    print(x)\n"
    r = run_program(prefix + completion, NO_INPUT, coverage=True)
    assert r.verdict == Verdict.COMPILE_ERROR and r.reward == -1.0 and not r.executed_lines
    assert mask_from_result(r, prefix, completion, words(completion)) == [1] * len(words(completion))


def test_runtime_crash_masks_after_the_crash_via_the_executor() -> None:
    prefix = "a = 1\n"
    completion = "b = a // 0\nc = 2\nprint(c)\n"
    r = run_program(prefix + completion, NO_INPUT, coverage=True)
    assert r.verdict == Verdict.RUNTIME_ERROR and r.executed_lines == {1, 2}
    offsets = words(completion)
    mask = mask_from_result(r, prefix, completion, offsets)
    cut = completion.index("\nc")  # the crashing line's tokens (and its newline) are 1, the rest 0
    assert mask == [1 if a <= cut else 0 for a, _ in offsets]
    assert sum(mask) > 0 and mask[-1] == 0


def test_no_coverage_information_is_plain_credit_and_missing_coverage_is_an_error() -> None:
    assert token_mask("x = 1\n", 0, [(0, 1), (1, 6)], frozenset()) == [1, 1]
    assert token_mask("x = 1\n", 0, [(0, 1), (1, 6)], {1}, compiled=False) == [1, 1]
    no_cov = ExecutionResult(problem_id="p", verdict=Verdict.PASSED, reward=1.0, coverage=False)
    with pytest.raises(ValueError, match="coverage=True"):
        mask_from_result(no_cov, "", "x = 1\n", [(0, 6)])


def test_unparseable_program_that_ran_falls_back_to_raw_lines() -> None:
    program = "x = 1\n# note\nthis is not python\ny = 2\n"  # e.g. a Python-2 solution judged elsewhere
    assert status_string(program, {1, 4}) == "10011"


def test_zero_width_tokens_are_credited() -> None:
    program = "if 0:\n    a = 1\n"
    assert token_mask(program, 0, [(6, 15), (16, 16)], {1}) == [0, 1]


# ---- real tokenizers ---------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["bpe", "unsplit"])
def tokenizer(request):
    return tiny_tokenizer() if request.param == "bpe" else unsplit_tokenizer()


def test_real_tokenizer_mask_and_special_tokens(tokenizer) -> None:
    prefix = "def f(n):\n    "
    completion = "if n > 2:\n        return 'é€'\n    return 0\nprint(f(1))\n"
    ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    text, offsets = completion_offsets(tokenizer, ids)
    assert text == completion and len(offsets) == len(ids) and offsets[-1] == (len(text), len(text))
    mask = token_mask(prefix + completion, len(prefix), offsets, traced_lines(prefix + completion))
    assert len(mask) == len(ids) and mask[-1] == 1
    unexecuted = completion.index("return 'é") , completion.index("'\n    return 0") + 1
    for (a, b), m in zip(offsets, mask):
        if unexecuted[0] <= a and b <= unexecuted[1]:
            assert m == 0, completion[a:b]
        if a >= unexecuted[1] + 1:
            assert m == 1, completion[a:b]
    assert 0 in mask and 1 in mask
    if tokenizer is not tiny_tokenizer():  # the unsplit style really has tokens of code across a line break
        assert any("\n" in completion[a:b] and completion[a:b].strip() for a, b in offsets)


def test_non_canonical_token_ids_get_offsets_by_decoding(tokenizer) -> None:
    text = "x = 'é€'\nif x:\n    y = 1\n"
    ids = []  # one character at a time: a legal but non-canonical tokenisation, like a sampled one
    for piece in re.findall(r".", text, flags=re.S):
        ids += tokenizer(piece, add_special_tokens=False)["input_ids"]
    assert ids != tokenizer(text, add_special_tokens=False)["input_ids"]
    out, offsets = completion_offsets(tokenizer, ids + [tokenizer.eos_token_id])
    assert out == text and len(offsets) == len(ids) + 1
    assert offsets[0][0] == 0 and offsets[-2][1] == len(text)
    assert all(a <= b and b <= len(text) for a, b in offsets)
    assert all(a1 >= a0 for (a0, _), (a1, _) in zip(offsets, offsets[1:]))
    assert all(b > a for a, b in offsets[:-1])  # partial UTF-8 pieces still cover their character


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prog=programs(), cut_seed=st.integers(0, 10_000))
def test_mask_properties_on_generated_programs(tokenizer, prog, cut_seed) -> None:
    source, _ = prog
    executed = traced_lines(source)
    cur = Curriculum({"p": source})
    rng = random.Random(cut_seed)
    cuts = {len(cur.prefix_for("p", c)) for c in range(cur.plans["p"].n_stages)} | {rng.randrange(len(source))}
    status = line_status(source, executed)
    starts = line_offsets(source)
    char_status = [status[i] for i in range(len(starts)) for _ in range(
        (starts[i + 1] if i + 1 < len(starts) else len(source)) - starts[i])]
    for cut in sorted(cuts):
        prefix, completion = source[:cut], source[cut:]
        enc = tokenizer(completion, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        mask = token_mask(source, len(prefix), offsets, executed)
        assert len(mask) == len(enc["input_ids"]) and set(mask) <= {0, 1}
        for (a, b), m in zip(offsets, mask):  # a token is 1 iff a character of it is on an executed line
            assert m == int(any(char_status[cut + a:cut + b])), (completion[a:b], m)
        more = token_mask(source, len(prefix), offsets, executed | set(range(1, len(starts) + 1)))
        assert more == [1] * len(mask)  # everything executed: everything credited
    for ln in executed:  # a line that fired is never masked out
        assert status[ln - 1]


@settings(max_examples=30, deadline=None)
@given(prog=programs(), data=st.data())
def test_no_prefix_token_ever_reaches_the_loss(prog, data) -> None:
    source, _ = prog
    tok = tiny_tokenizer()
    cur = Curriculum({"p": source})
    stage = data.draw(st.integers(0, cur.plans["p"].n_stages - 1))
    prompt = cur.prompt_for("p", "### Instruction:\nsolve it\n### Response:\n", stage)
    prefix = cur.prefix_for("p", stage)
    completion = source[len(prefix):]
    assert prompt.endswith(prefix) and cur.program_for("p", completion, stage) == source
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    c_enc = tok(completion, add_special_tokens=False, return_offsets_mapping=True)
    fgo = token_mask(source, len(prefix), c_enc["offset_mapping"], traced_lines(source))
    assert len(fgo) == len(c_enc["input_ids"])
    loss = torch.rand(1, len(p_ids) + len(fgo), dtype=torch.float64, requires_grad=True)
    seq_mask = torch.tensor([[0] * len(p_ids) + fgo])
    apply_token_mask(loss, seq_mask).backward()
    assert torch.all(loss.grad[0, : len(p_ids)] == 0)
    assert torch.equal(loss.grad[0, len(p_ids):] != 0, torch.tensor(fgo, dtype=torch.bool))


# ---- the loss --------------------------------------------------------------------------------

def test_apply_token_mask_values_and_all_zero_rows() -> None:
    loss = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 9.0, 9.0, 9.0]], requires_grad=True)
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    attn = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]])
    seq = apply_token_mask(loss, mask, attn)
    assert torch.isclose(seq, torch.tensor((2.0 + 0.0 + 9.0) / 3))
    seq.backward()
    assert torch.all(loss.grad[1] == 0) and not torch.isnan(loss.grad).any()
    assert torch.allclose(loss.grad[0], torch.tensor([0.5, 0, 0.5, 0]) / 3)
    tok = apply_token_mask(loss.detach(), mask, attn, reduction="token")
    assert torch.isclose(tok, torch.tensor((1.0 + 3.0 + 9.0 + 9.0) / 4))
    zero = apply_token_mask(loss.detach(), torch.zeros_like(mask))
    assert zero.item() == 0.0
    with pytest.raises(ValueError):
        apply_token_mask(loss, mask, reduction="mean")


def test_pad_masks() -> None:
    out = pad_masks([[1, 0, 1], [1], []], 4)
    assert out.tolist() == [[1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]] and out.dtype == torch.long
    assert pad_masks([[1, 1, 1]], 2).tolist() == [[1, 1]]


def test_a_looping_branch_that_times_out_keeps_its_tokens(cov_executor) -> None:
    """The lines a test ran before its CPU limit killed it reach the mask: the penalty reaches the loop."""
    from stepcoder_lib.executor import Job

    prefix = "n = int(input())\n"
    completion = "if n == 1:\n    print(1)\nelse:\n    x = 0\n    while True:\n        x += 1\n"
    offsets = words(completion)
    loop = completion.index("    x = 0")
    for inputs, printed_ran in ((("1\n", "2\n"), True), (("2\n", "1\n"), False)):  # the loop in the second / first test
        tests = TestCases("stdin", inputs, tuple(i for i in inputs))
        [r] = cov_executor.run_batch([Job(prefix + completion, tests, problem_id="loop")])
        assert r.verdict == Verdict.TIMEOUT and {6, 7} <= r.executed_lines
        assert (3 in r.executed_lines) == printed_ran
        mask = mask_from_result(r, prefix, completion, offsets)
        in_loop = [m for m, (a, _) in zip(mask, offsets) if a >= loop]
        in_print = [m for m, (a, b) in zip(mask, offsets) if completion.index("print") <= a < completion.index("else")]
        assert in_loop and set(in_loop) == {1}
        assert set(in_print) == ({1} if printed_ran else {0})  # the mask is not all ones: coverage was recorded
