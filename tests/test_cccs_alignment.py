"""CCCS prompts are prefixes of the token sequence SFT trained on, for every stage of every tiny problem.

Three tokenizer styles: the tiny profile's own (byte-level BPE, digits split, trained on the
problems), its unsplit variant (merges across spaces and line breaks) and a LLaMA-2 style
(metaspace, byte fallback, BOS on every text, a decoder that drops the first space). For each:
the policy's prompt ids are a prefix of what SFT feeds for prompt + solution (TRL's
``processing_class(text=prompt + completion + eos)``), the prompt decodes to task + prefix, and
prefix + the completion decoded after the prompt rebuilds the canonical solution exactly. Stage 0
is the evaluation prompt (the task encoded alone); with the two other styles the task's last token
can merge with the solution's first, which is the template's affair (TRL warns in SFT), not CCCS's.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from trl.data_utils import common_prefix_length

from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.method.masking import completion_offsets
from stepcoder_lib.models.encoding import aligned_prefix, decode, decode_after, encode
from stepcoder_lib.models.prompts import build_prompt
from stepcoder_lib.models.tokenizer import sentencepiece_tokenizer, stdlib_corpus, train_code_tokenizer
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.rollout import StagePrompts


@functools.cache
def tiny_training_problems() -> list[Any]:
    """The tiny profile's generated training problems (its cleaned training split is a subset of these)."""
    from stepcoder_lib.data.prepare import _generator_config
    from stepcoder_lib.data.synthetic import generate_problems, to_problem

    config = {**_generator_config(get_profile("tiny").data), "defect_rate": 0.0}
    return [to_problem(r) for r in generate_problems(**config) if r["split"] == "train"]


@functools.cache
def tokenizer_of(style: str) -> Any:
    from stepcoder_lib.models.tiny import problem_documents, train_tiny_tokenizer

    problems, profile = tiny_training_problems(), get_profile("tiny")
    if style == "tiny":
        return train_tiny_tokenizer(problems, profile)
    corpus = stdlib_corpus(300_000) + problem_documents(problems[:500], profile)
    if style == "unsplit":
        return train_code_tokenizer(corpus, vocab_size=2048, pretokenize=False)
    return sentencepiece_tokenizer(corpus, vocab_size=2048)


@pytest.mark.slow
@pytest.mark.parametrize("style", ["tiny", "unsplit", "sentencepiece"])
def test_every_stage_prompt_is_a_prefix_of_the_sft_sequence_and_rebuilds_the_program(style: str) -> None:
    tok, profile = tokenizer_of(style), get_profile("tiny")
    problems = tiny_training_problems()
    cur = Curriculum(config=profile.rl.cccs)
    for p in problems:
        cur.add(p.id, p.canonical_solution)
    tasks = {p.id: build_prompt(p, profile) for p in problems}
    prompts = StagePrompts(tok, tasks, cur)
    checked = moved = 0
    for p in problems:
        sft_ids = tok(text=tasks[p.id] + p.canonical_solution + tok.eos_token)["input_ids"]  # what TRL's SFT feeds
        for stage in range(cur.plans[p.id].n_stages):
            s = prompts.at(p.id, stage)
            n = len(s.prompt_ids)
            if stage > 0 or style == "tiny":
                assert list(s.prompt_ids) == sft_ids[:n], (style, p.id, stage)
            else:  # stage 0 is the evaluation prompt, encode(task); merges across the task's end are the
                # template's affair (TRL's SFT warns and starts the completion where the two diverge)
                assert list(s.prompt_ids) == encode(tok, tasks[p.id])
                n = common_prefix_length(s.prompt_ids, sft_ids)
            assert decode(tok, s.prompt_ids) == tasks[p.id] + s.prefix
            checked += 1
            if n < len(s.prompt_ids):
                continue
            completion = decode_after(tok, s.prompt_ids, sft_ids[n:])
            assert s.prefix + completion == p.canonical_solution, (style, p.id, stage)
            text, offsets = completion_offsets(tok, sft_ids[n:], s.prompt_ids)  # what FGO masks over
            assert text == completion and len(offsets) == len(sft_ids) - n
            moved += len(s.prefix) < len(cur.prefix_for(p.id, stage))
    assert checked - len(problems) > len(problems) // 2  # stages beyond 0: a prefix given
    print(f"{style}: {checked} (problem, stage) prompts aligned; {moved} cuts moved back to a token start")


def test_the_keyword_cut_moves_back_to_the_token_that_covers_it() -> None:
    tok = train_code_tokenizer(stdlib_corpus(200_000), vocab_size=1024)
    head, body = "Write it.\n", "n = int(input())\nif n > 1:\n    if n > 2:\n        print(n)\n"
    cut = body.index("if n > 2")
    a = aligned_prefix(tok, head, body, cut)
    assert a.body_prefix == body[: cut - 1]  # byte-level BPE: the space before `if` belongs to " if"
    joint = encode(tok, head + body)
    assert list(a.prompt_ids) == joint[: len(a.prompt_ids)]
    assert tok.convert_ids_to_tokens(joint[len(a.prompt_ids)]) == "Ġif"
    alone = encode(tok, head + body[:cut])  # the text cut, tokenised alone: what the policy used to get
    assert alone != joint[: len(alone)]  # ends in "\n   " + " " (or similar): a context SFT never showed
    assert aligned_prefix(tok, head, body, 0).prompt_ids == tuple(encode(tok, head))  # stage 0: the plain task


def test_bos_tokenizers_get_bos_in_prompts_as_in_sft() -> None:
    tok = tokenizer_of("sentencepiece")
    assert tok("x = 1")["input_ids"][0] == tok.bos_token_id
    assert encode(tok, "Task\n")[0] == tok.bos_token_id  # RL and evaluation prompts start as SFT's sequences do
    text = "    if x:\n        y = 1\n"
    ids = encode(tok, "def f(x):\n" + text)
    head = encode(tok, "def f(x):\n")
    assert ids[: len(head)] == head
    assert decode(tok, ids[len(head):]) != text  # decoded alone, the leading space is lost ...
    assert decode_after(tok, head, ids[len(head):]) == text  # ... decoded after its prompt, it is not
