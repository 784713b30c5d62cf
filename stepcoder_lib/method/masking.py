"""FGO: Fine-Grained Optimization, the executed-token mask (paper Sec. 3.3).

Only completion tokens on code the unit tests executed carry policy gradient. The executor gives
the executed 1-based lines of the full program (prefix + completion), from line events
(``sys.settrace``-style). Lines become tokens here. The policy for what the paper leaves open:

* A statement spanning several lines is executed if any of its lines fired (Python fires the
  first line, sometimes inner ones); then all its lines are. A compound statement's header
  (``if``/``for``/``while``/``with``/``def``/``class``/``except``/``case`` line(s), decorators
  included) is its own statement: ``def``/``class`` headers run when the definition runs, even if
  the body never does; decorator lines go with their ``def``.
* ``else:`` / ``try:`` / ``finally:`` lines (no line event of their own) take the status of the
  block they open: the next statement's. So do statements that may compile to no bytecode
  (``global``/``nonlocal``, function docstrings and other bare constants, ``x: int``) unless
  their own line fired.
* Comment and blank lines take the status of the next code line (what a comment usually
  describes), else of the previous one.
* A token is 1 if any line it touches is executed (``"\\n    "`` straddles two lines; a token of
  ``":\\n    return"`` is credited when either line ran). Zero-width tokens (EOS and other special
  tokens) are 1: stopping is a decision about the whole program; padding is the trainer's
  ``completion_mask``'s business.
* The completion may start mid-line after the prefix: its characters are placed at
  ``prefix_len + offset`` in the full program, so its first token shares the prefix's last line.
* Compile error: all ones. Nothing ran, so coverage says nothing; the compiler looked at the
  whole text and rejected it, and the paper's -1 for a syntax error must reach the model (an
  all-zero mask would make syntax errors free). Same for a run that reported no executed line
  at all (e.g. every test killed before its coverage was saved): no information, plain credit.
* Crash part-way: the crashing line fired, so it is 1; lines after it did not, so they are 0.
* A program that does not parse here (but ran) falls back to the raw executed lines for code
  and the neighbour rule for comment/blank lines.
"""

from __future__ import annotations

import ast
import bisect
import warnings
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import torch

from stepcoder_lib.data.conditionals import line_offsets
from stepcoder_lib.executor.verdicts import Verdict
from stepcoder_lib.models.encoding import decode_after

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Offsets = Sequence[tuple[int, int]]


def _is_comment_or_blank(text: str) -> bool:
    s = text.strip()
    return not s or s.startswith("#")


def _header_span(node: Any, first_body_line: int, code: list[bool]) -> tuple[int, int]:
    """Lines of a compound statement's header: decorators through the last code line before its body."""
    start = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
    end = node.lineno
    for ln in range(node.lineno, first_body_line):
        if code[ln - 1]:
            end = ln
    return start, end


def _silent(node: ast.AST) -> bool:
    """Statements that may compile to nothing (declarations, docstrings, bare annotations)."""
    return (isinstance(node, (ast.Global, ast.Nonlocal))
            or (isinstance(node, ast.AnnAssign) and node.value is None)
            or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)))


def _own_spans(node: ast.AST, code: list[bool]) -> list[tuple[int, int]]:
    """Lines that belong to ``node`` itself (not to the statements nested in it)."""
    if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        return []  # the `try:` line is a keyword line, like else:/finally:
    if _silent(node):
        return []  # no bytecode, no line event: resolved like a keyword line
    if isinstance(node, ast.match_case):
        return [_header_span(node.pattern, node.body[0].lineno, code)]
    if isinstance(node, ast.Match):
        return [_header_span(node, node.cases[0].pattern.lineno, code)]
    body = getattr(node, "body", None)
    if isinstance(node, (ast.stmt, ast.ExceptHandler)) and isinstance(body, list) and body:
        return [_header_span(node, body[0].lineno, code)]
    if isinstance(node, ast.stmt):
        return [(node.lineno, node.end_lineno or node.lineno)]
    return []


def _statements(nodes: list[Any]) -> Any:
    """Statements, except handlers and match cases, depth first (cheaper than ``ast.walk``: no expressions)."""
    for node in nodes:
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            sub = getattr(node, name, None)
            if isinstance(sub, list):
                yield from _statements(sub)


def line_status(program: str, executed_lines: Collection[int]) -> list[bool]:
    """Executed status of every physical line of ``program`` under the module's policy (index i = line i+1)."""
    starts = line_offsets(program)
    texts = [program[a:b] for a, b in zip(starts, starts[1:] + [len(program)])]
    n = len(texts)
    ran = set(executed_lines)
    owned: list[bool | None] = [None] * n  # None: no statement owns the line
    code = [not _is_comment_or_blank(t) for t in texts]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            tree = ast.parse(program)
    except (SyntaxError, ValueError):  # ValueError: NUL bytes
        tree = None
    if tree is None:
        for i in range(n):
            if code[i]:
                owned[i] = (i + 1) in ran
    else:
        for node in _statements(tree.body):
            for a, b in _own_spans(node, code):
                hit = any(ln in ran for ln in range(a, b + 1))
                for ln in range(a, b + 1):
                    owned[ln - 1] = bool(owned[ln - 1]) or hit
    status = [bool(o) for o in owned]
    nxt: bool | None = None
    for i in range(n - 1, -1, -1):  # keyword lines (else:/try:/finally:) take the next statement's status
        if owned[i] is not None:
            nxt = status[i]
        elif code[i]:
            status[i] = (i + 1) in ran or bool(nxt)
            owned[i] = status[i]
    resolved = [o is not None for o in owned]  # now: every code line
    last = max((i for i in range(n) if resolved[i]), default=None)
    nxt = None
    for i in range(n - 1, -1, -1):  # comments and blank lines: next code line, else previous
        if resolved[i]:
            nxt = status[i]
        else:
            status[i] = bool(nxt) if nxt is not None else (last is not None and status[last])
    return status


def token_mask(program: str, prefix_len: int, offsets: Offsets, executed_lines: Collection[int],
               compiled: bool = True) -> list[int]:
    """0/1 per completion token: 1 when the token touches an executed line of ``program``.

    ``offsets`` are (start, end) character offsets into the completion, which begins at
    ``program[prefix_len:]``; the result has exactly one entry per offset.
    """
    if not compiled or not executed_lines:
        return [1] * len(offsets)
    status = line_status(program, executed_lines)
    starts = line_offsets(program)
    cum = [0]
    for s in status:
        cum.append(cum[-1] + s)
    mask = []
    for a, b in offsets:
        if b <= a:
            mask.append(1)
            continue
        la = bisect.bisect_right(starts, prefix_len + a) - 1
        lb = bisect.bisect_right(starts, prefix_len + b - 1) - 1
        mask.append(int(cum[lb + 1] - cum[la] > 0))
    return mask


def mask_from_result(result: Any, prefix: str, completion: str, offsets: Offsets,
                     span: tuple[int, int] | None = None) -> list[int]:
    """The FGO mask of one rollout from its ``ExecutionResult``.

    The program that ran is ``(prefix + completion)[span]`` (default: all of it; an answer's code
    block is a part, see ``prompts.answer_program``). Tokens outside the program never ran: 0;
    zero-width tokens (EOS) stay 1.
    """
    if result.verdict == Verdict.COMPILE_ERROR:
        return [1] * len(offsets)
    if not getattr(result, "coverage", True):
        raise ValueError("FGO needs executed lines: run the executor with coverage=True")
    text = prefix + completion
    if span is None or span == (0, len(text)):
        return token_mask(text, len(prefix), offsets, result.executed_lines)
    a0, b0 = span
    program, n = text[a0:b0], len(prefix)
    inside = [i for i, (a, b) in enumerate(offsets) if b > a and n + b > a0 and n + a < b0]
    clipped = [(max(n + offsets[i][0], a0) - a0, min(n + offsets[i][1], b0) - a0) for i in inside]
    mask = [1 if b <= a else 0 for a, b in offsets]
    for i, m in zip(inside, token_mask(program, 0, clipped, result.executed_lines)):
        mask[i] = m
    return mask


def completion_offsets(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int],
                       context: Sequence[int] = ()) -> tuple[str, list[tuple[int, int]]]:
    """The text of generated ``ids`` (special tokens dropped) and each id's (start, end) char span in it.

    ``context``: the prompt's ids; the text is decoded after it (``encoding.decode_after``), since a
    SentencePiece-style decoder drops the leading space of a sequence's first token. Fast path:
    re-encoding the text gives the same ids, so the tokenizer's offsets apply. Otherwise (a
    non-canonical sampled tokenisation, or a context-dependent decoder) decode prefixes; special
    tokens get zero-width spans.
    """
    ids = [int(i) for i in ids]
    special = set(tokenizer.all_special_ids)
    plain = [i for i in ids if i not in special]
    text = decode_after(tokenizer, context, plain)
    backend = getattr(tokenizer, "backend_tokenizer", None)  # the Rust tokenizer: same result, less overhead
    if backend is not None:
        enc = backend.encode(text, add_special_tokens=False)
        again, offsets = enc.ids, enc.offsets
    else:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        again, offsets = enc["input_ids"], enc["offset_mapping"]
    if list(again) == plain:
        spans = [tuple(o) for o in offsets]
    else:
        spans, prev = [], 0
        for k in range(1, len(plain) + 1):
            part = decode_after(tokenizer, context, plain[:k])
            end = prev
            while end < min(len(part), len(text)) and part[end] == text[end]:
                end += 1  # a partial UTF-8 char decodes to U+FFFD and stops the match
            end = len(text) if k == len(plain) else end
            spans.append((prev, end) if end > prev else (prev, min(prev + 1, len(text))))  # partial char
            prev = end
    out, j, pos = [], 0, 0
    for i in ids:
        if i in special:
            out.append((pos, pos))
        else:
            out.append(spans[j])
            pos = spans[j][1]
            j += 1
    return text, out


def pad_masks(masks: Sequence[Sequence[int]], length: int, device: Any = None) -> torch.Tensor:
    """Right-pad per-rollout masks to ``length`` (completion tensors are right-padded) as a long tensor."""
    out = torch.zeros(len(masks), length, dtype=torch.long, device=device)
    for r, m in enumerate(masks):
        k = min(len(m), length)
        out[r, :k] = torch.as_tensor(list(m[:k]), dtype=torch.long)
    return out


def apply_token_mask(per_token_loss: torch.Tensor, mask: torch.Tensor, attention_mask: torch.Tensor | None = None,
                     reduction: str = "sequence") -> torch.Tensor:
    """Masked mean of a (batch, tokens) loss; a row whose mask is all zero contributes 0, never NaN.

    ``reduction="sequence"``: mean over rows of each row's mean over its masked tokens (GRPO's
    "grpo" loss, PPO's per-sample mean); ``"token"``: sum over all masked tokens / their count
    (TRL's "bnpo"/"dapo"). With TRL GRPO pass ``completion_mask * fgo_mask`` as the loss mask (its
    per-token ``tool_mask`` seam); in PPO multiply the policy loss's mask the same way. The value
    loss is left unmasked by default: the critic should still predict the return at every token.
    """
    m = mask.to(per_token_loss.dtype)
    if attention_mask is not None:
        m = m * attention_mask.to(per_token_loss.dtype)
    if reduction == "token":
        return (per_token_loss * m).sum() / m.sum().clamp(min=1.0)
    if reduction != "sequence":
        raise ValueError(f"reduction must be 'sequence' or 'token', got {reduction!r}")
    per_row = (per_token_loss * m).sum(-1) / m.sum(-1).clamp(min=1.0)
    return per_row.mean()
