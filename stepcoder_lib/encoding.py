"""Text <-> token ids, the one way for SFT, RL and evaluation, and CCCS cuts on token boundaries.

Three rules keep what the model is fed identical across training and evaluation:

* ``encode`` is how a text becomes model input everywhere: the tokenizer's own special tokens
  (BOS where the tokenizer adds one, as DeepSeek-Coder's and Llama's do), exactly what TRL's
  ``SFTTrainer`` feeds in SFT (``processing_class(text=prompt + completion)``).
* A CCCS prompt is a *prefix of the joint tokenisation* of task prompt + canonical solution
  (``aligned_prefix``), never the prefix text tokenised alone. Byte-level BPE merges indentation
  into the line break (``"\\n   "`` + ``" if"``) and SentencePiece glues a space to the word after
  it (``"▁if"``), so text cut at the keyword ends in a token the model never saw there in SFT.
  The cut moves back to the start of the token that covers the statement's first character.
* A completion's text is decoded *after its context* (``decode_after``): SentencePiece-style
  decoders drop the leading space of a sequence's first token, so ``"▁if"`` decoded alone is
  ``"if"`` and the program would lose its indentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: Context tokens decoded before a continuation: enough for any decoder's boundary rule (a leading-space
#: strip, a byte sequence split over tokens), short enough to cost nothing.
CONTEXT_TOKENS = 8


def encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Model input ids of ``text``: the tokenizer's special tokens included, as SFT (TRL) tokenises."""
    ids = list(tokenizer(text)["input_ids"])
    eos = tokenizer.eos_token_id
    if ids and eos is not None and ids[-1] == eos and not text.endswith(str(tokenizer.eos_token)):
        ids.pop()  # a tokenizer that appends EOS would end every prompt; SFT appends its own EOS text
    return ids


def decode(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int]) -> str:
    """Plain text of ``ids`` (special tokens dropped, no clean-up of spaces: code is whitespace-exact)."""
    return str(tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False))


def decode_after(tokenizer: PreTrainedTokenizerBase, context: Sequence[int], ids: Sequence[int]) -> str:
    """The text ``ids`` add after ``context``: decode(context + ids) minus decode(context).

    Raises ValueError when decoding is not prefix-stable here (a lossy tokenizer), instead of
    silently building a program the policy did not write.
    """
    ctx = [int(i) for i in context[-CONTEXT_TOKENS:]] if context else []
    head = decode(tokenizer, ctx)
    full = decode(tokenizer, ctx + [int(i) for i in ids])
    if not full.startswith(head):
        raise ValueError(f"decoding is not prefix-stable after {head[-20:]!r}: cannot split the completion's text")
    return full[len(head):]


@dataclass(frozen=True)
class AlignedPrefix:
    """A prompt that ends on a token boundary of ``encode(head + body)``: ids and the body text they cover."""

    prompt_ids: tuple[int, ...]
    body_prefix: str  # body[:len(body_prefix)]: what of ``body`` the prompt holds (program = this + completion)


def aligned_prefix(tokenizer: PreTrainedTokenizerBase, head: str, body: str, cut: int) -> AlignedPrefix:
    """The prompt ``head + body[:cut]``, moved back to the start of the joint tokenisation's token covering ``cut``.

    ``cut == 0`` is the plain ``head`` (``encode(head)``, what evaluation feeds). Otherwise the ids
    are a prefix of the joint tokenisation SFT trained on, and their text is ``head`` followed by
    ``body[:k]`` for the largest token boundary ``k <= cut``.
    """
    if not 0 <= cut <= len(body):
        raise ValueError(f"cut {cut} outside the body (0..{len(body)})")
    if cut == 0:
        return AlignedPrefix(tuple(encode(tokenizer, head)), "")
    text = head + body
    enc = tokenizer(text, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
    special = set(tokenizer.all_special_ids)
    pos = len(head) + cut
    # the first real token that ends past the cut covers it (trimmed offsets still cover the keyword)
    i = next((k for k, (tid, (_, end)) in enumerate(zip(ids, offsets)) if tid not in special and end > pos), len(ids))
    full = decode(tokenizer, ids)
    while i > 0:
        shown = decode(tokenizer, ids[:i])
        if shown.startswith(head) and text.startswith(shown) and full.startswith(shown):
            return AlignedPrefix(tuple(ids[:i]), shown[len(head):])
        i -= 1  # a boundary inside a character or the head: one token earlier
    raise ValueError(f"no token boundary of the joint tokenisation lies within the body before char {cut}")


__all__ = ["CONTEXT_TOKENS", "AlignedPrefix", "aligned_prefix", "decode", "decode_after", "encode"]
