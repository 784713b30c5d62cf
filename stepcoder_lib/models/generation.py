"""Sampling completions from a causal LM: the one entry point training and evaluation share.

Returns token ids as well as text, so that FGO masks are built over exactly the tokens the policy
produced (re-tokenising the text may split it differently).

Why a hand-written decoding loop instead of ``model.generate``: on CPU, at the tiny model's size,
``generate`` spends as much time in per-step bookkeeping (logits processors, stopping criteria,
mask building, a KV cache grown by concatenation) as in the model, and keeps computing rows that
have already finished. The loop below calls the same model forward (so the logits are the
model's own), but over a preallocated KV cache, with the attention mask kept as a tensor view,
temperature and top-p applied in place, and finished rows dropped from the batch. Prompts are
batched by length, and the prompt pass (prefill) runs in small groups of similar length whose
keys and values are then laid side by side in the shared cache: a batch's prompts range from ~80
to ~500 tokens, and one padded prefill spends most of its attention on padding. Semantics follow ``generate``:
greedy is the argmax; sampling is temperature then nucleus (top-p keeps the smallest set of
tokens whose probability reaches ``top_p``, at least one); the completion stops at EOS.
Randomness comes from a ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched),
so the same seed, prompts and settings give the same completions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from transformers.cache_utils import Cache, DynamicLayer

from stepcoder_lib.models.encoding import decode_after, encode

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Completion:
    prompt_index: int  # index into the prompts given to ``sample_completions``
    text: str  # decoded completion, cut at the first end-of-sequence token
    token_ids: tuple[int, ...]  # the completion's tokens (no prompt, no padding, no EOS)
    finished: bool  # ended with EOS (False: hit max_new_tokens)


class _PreallocatedLayer(DynamicLayer):
    """A KV-cache layer written in place into buffers sized for the whole generation (no per-step ``cat``)."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity, self.length = capacity, 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.key_buf = key_states.new_empty((*key_states.shape[:2], self.capacity, key_states.shape[-1]))
        self.value_buf = value_states.new_empty((*value_states.shape[:2], self.capacity, value_states.shape[-1]))
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        self.key_buf[:, :, self.length:self.length + n] = key_states
        self.value_buf[:, :, self.length:self.length + n] = value_states
        self.length += n
        self.keys, self.values = self.key_buf[:, :, :self.length], self.value_buf[:, :, :self.length]
        return self.keys, self.values

    def fill_from(self, rows: slice, part: _PreallocatedLayer, width: int) -> None:
        """Place a prefill group's cache (``part``, its prompts right-aligned to ``width``) at ``rows``.

        The columns left of the group's own width are padding for these rows: zeroed, since masked
        keys still enter the attention product (0 x garbage could be NaN)."""
        w = part.length
        for name in ("key_buf", "value_buf"):
            buf, src = getattr(self, name), getattr(part, name)
            buf[rows, :, width - w:width] = src[:, :, :w]
            buf[rows, :, :width - w] = 0
        self.length = width
        self.keys, self.values = self.key_buf[:, :, :self.length], self.value_buf[:, :, :self.length]

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep rows ``indices``, copying only the filled part of the buffers."""
        if not self.is_initialized:
            return
        for name in ("key_buf", "value_buf"):
            old = getattr(self, name)
            new = old.new_empty((len(indices), *old.shape[1:]))
            new[:, :, :self.length] = old[indices, :, :self.length]
            setattr(self, name, new)
        self.keys, self.values = self.key_buf[:, :, :self.length], self.value_buf[:, :, :self.length]


def _n_layers(model: Any) -> int:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return int(config.num_hidden_layers)


#: Candidates looked at first in nucleus sampling: enough when they already hold ``top_p``.
_TOP_K_FIRST = 64


class NucleusWidth:
    """How many top candidates the last step's nucleus needed: the next step starts there.

    A peaked distribution needs a few dozen, a flat one (an untrained model) most of the vocabulary
    every step; starting from the last step's need makes one ``topk`` call per step the usual case."""

    def __init__(self) -> None:
        self.k = _TOP_K_FIRST


def _race(weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row drawn proportionally to ``weights`` (in place): the exponential race, argmax of
    w / E with E ~ Exponential(1), as vLLM's sampler does; ``multinomial`` is several times slower on CPU."""
    return weights.div_(torch.empty_like(weights).exponential_(generator=generator)).argmax(dim=-1, keepdim=True)


def _next_tokens(logits: torch.Tensor, greedy: bool, temperature: float, top_p: float,
                 generator: torch.Generator, width: NucleusWidth | None = None) -> torch.Tensor:
    """One token per row: argmax, or a sample after temperature and nucleus filtering (in place on ``logits``)."""
    if greedy:
        return logits.argmax(dim=-1)
    logits = logits.float()
    if temperature != 1.0:
        logits.div_(temperature)
    probs = torch.softmax(logits, dim=-1)
    if top_p >= 1.0:
        return _race(probs, generator).squeeze(-1)
    # The nucleus is a prefix of the tokens sorted by probability. The top k candidates are found much
    # faster than a full sort of the vocabulary; k widens 8x until every row's nucleus fits in them.
    vocab = probs.shape[-1]
    k = min(width.k if width is not None else _TOP_K_FIRST, vocab)
    top, order = probs.topk(k, dim=-1)
    while k < vocab and bool((top.sum(dim=-1) < top_p).any()):
        k = min(8 * k, vocab)
        top, order = probs.topk(k, dim=-1)
    mass_before = top.cumsum(dim=-1).sub_(top)  # probability of the tokens ranked above each one
    outside = mass_before >= top_p  # rank 0 always stays (mass_before = 0)
    if width is not None:  # the widest nucleus of this step, with room to grow: where the next step starts
        width.k = max(_TOP_K_FIRST, 2 * int((~outside).sum(dim=-1).max()))
    top.masked_fill_(outside, 0.0)
    choice = _race(top, generator)
    return order.gather(-1, choice).squeeze(-1)


def _prefill_mask(valid: torch.Tensor) -> torch.Tensor:
    """4D boolean attention mask (True = attend) for left-padded prompts: causal, real keys only.

    A padding position attends to itself, so that no row is fully masked (its output is unused).
    """
    width = valid.shape[1]
    causal = torch.ones((width, width), dtype=torch.bool, device=valid.device).tril_()
    mask = causal[None, None] & valid[:, None, None, :]
    mask |= torch.eye(width, dtype=torch.bool, device=valid.device)[None, None]
    return mask


#: Rows per prefill group: groups of similar-length prompts waste little on padding, and a few more
#: forward calls cost less than attention over a batch padded to its longest prompt.
_PREFILL_GROUP = 8


def _grouped_prefill(model: Any, input_ids: torch.Tensor, valid: torch.Tensor, positions: torch.Tensor,
                     layers: list[_PreallocatedLayer]) -> torch.Tensor:
    """Run the prompts through the model in groups of ``_PREFILL_GROUP`` rows, each cut to its own longest
    prompt, and lay every group's keys and values into the cache ``layers`` right-aligned (left padding, as one
    padded pass would); returns the last position's logits per row."""
    n, width = input_ids.shape
    lengths = valid.sum(dim=-1)
    logits = []
    for start in range(0, n, _PREFILL_GROUP):
        rows = slice(start, min(start + _PREFILL_GROUP, n))
        w = int(lengths[rows].max())
        part = [_PreallocatedLayer(w) for _ in layers]
        # A 4D mask is used by the attention as given: no mask building inside the model.
        out = model(input_ids=input_ids[rows, width - w:], attention_mask=_prefill_mask(valid[rows, width - w:]),
                    position_ids=positions[rows, width - w:], past_key_values=Cache(layers=[*part]), use_cache=True,
                    logits_to_keep=1)
        logits.append(out.logits[:, -1])
        for layer, group_layer in zip(layers, part, strict=True):
            if not layer.is_initialized:  # shaped from the first group: all n rows, the whole capacity
                k, v = group_layer.key_buf, group_layer.value_buf  # (rows, heads, length, head_dim)
                layer.lazy_initialization(k.new_empty((n, k.shape[1], 0, k.shape[3])),
                                          v.new_empty((n, v.shape[1], 0, v.shape[3])))
            layer.fill_from(rows, group_layer, width)
    return torch.cat(logits)


@torch.inference_mode()
def _decode_batch(model: Any, prompt_ids: list[list[int]], *, pad: int, eos: int | None, greedy: bool,
                  temperature: float, top_p: float, max_new_tokens: int,
                  generator: torch.Generator) -> list[tuple[list[int], bool]]:
    """Decode one batch of tokenised prompts; returns (completion ids, finished) per row."""
    device = next(model.parameters()).device
    n, width = len(prompt_ids), max(len(p) for p in prompt_ids)
    input_ids = torch.full((n, width), pad, dtype=torch.long, device=device)
    valid = torch.zeros((n, width + max_new_tokens), dtype=torch.bool, device=device)
    for i, ids in enumerate(prompt_ids):  # left padding: every row's last prompt token is at column width - 1
        input_ids[i, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
        valid[i, width - len(ids):width] = True
    positions = (valid[:, :width].long().cumsum(-1) - 1).clamp_(min=0)
    layers = [_PreallocatedLayer(width + max_new_tokens) for _ in range(_n_layers(model))]
    cache = Cache(layers=[*layers])
    logits = _grouped_prefill(model, input_ids, valid[:, :width], positions, layers)
    rows = torch.arange(n, device=device)  # original row of each row still in the batch
    live = torch.ones(n, dtype=torch.bool, device=device)  # rows in the batch that have not finished
    next_pos = positions[:, -1] + 1
    nucleus = NucleusWidth()
    generated = torch.full((n, max_new_tokens), pad, dtype=torch.long, device=device)
    lengths = torch.zeros(n, dtype=torch.long, device=device)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    for step in range(max_new_tokens):
        tokens = _next_tokens(logits, greedy, temperature, top_p, generator, nucleus)
        generated[rows[live], step] = tokens[live]
        lengths[rows[live]] += 1
        if eos is not None:
            done = live & (tokens == eos)
            finished[rows[done]] = True
            live &= ~done
        n_live = int(live.sum())
        if n_live == 0 or step == max_new_tokens - 1:
            break
        if len(rows) - n_live >= max(1, len(rows) // 8):  # drop finished rows once they are worth a copy
            keep = live.nonzero().squeeze(-1)
            rows, tokens, next_pos, valid, live = rows[keep], tokens[keep], next_pos[keep], valid[keep], live[keep]
            cache.batch_select_indices(keep)
        valid[:, width + step] = True
        out = model(input_ids=tokens[:, None], attention_mask=valid[:, None, None, :width + step + 1],
                    position_ids=next_pos[:, None], past_key_values=cache, use_cache=True)
        logits = out.logits[:, -1]
        next_pos += 1
    result = []
    for i in range(n):
        ids = generated[i, : int(lengths[i])].tolist()
        if finished[i]:
            ids = ids[:-1]  # drop the EOS itself
        result.append((ids, bool(finished[i])))
    return result


def sample_completions(model: Any, tokenizer: PreTrainedTokenizerBase,
                       prompts: Sequence[str] | Sequence[Sequence[int]], *, n: int = 1,
                       temperature: float = 1.0,
                       top_p: float = 1.0, max_new_tokens: int = 256, greedy: bool = False, seed: int = 0,
                       batch_size: int = 64) -> list[list[Completion]]:
    """``n`` completions per prompt, ``[prompt][sample]``; same seed, same completions.

    A prompt is text (encoded by ``encoding.encode``, special tokens as in SFT) or token ids as
    given (a token-aligned CCCS prompt). A completion's text is decoded after its prompt
    (``encoding.decode_after``). Rows (prompt x sample) are batched ``batch_size`` at a time in order
    of prompt length, so the result for one prompt depends on the other prompts in the call only
    through that order.
    """
    if not greedy and temperature <= 0:
        raise ValueError("temperature must be positive when sampling (use greedy=True for argmax decoding)")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos if eos is not None else 0)
    encoded = [encode(tokenizer, p) if isinstance(p, str) else [int(i) for i in p] for p in prompts]
    flat = sorted(((i, s) for i, _ in enumerate(prompts) for s in range(n)), key=lambda r: (-len(encoded[r[0]]), r))
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    was_training = model.training
    model.eval()
    out: list[list[Completion | None]] = [[None] * n for _ in prompts]
    try:
        for start in range(0, len(flat), batch_size):
            chunk = flat[start:start + batch_size]
            decoded = _decode_batch(model, [encoded[i] for i, _ in chunk], pad=pad, eos=eos, greedy=greedy,
                                    temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                                    generator=generator)
            for (i, s), (ids, done) in zip(chunk, decoded, strict=True):
                out[i][s] = Completion(i, decode_after(tokenizer, encoded[i], ids), tuple(ids), done)
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]
