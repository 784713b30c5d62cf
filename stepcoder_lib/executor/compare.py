"""Output comparison: is what the program produced what the test expects?

Comparison runs in the trusted process, never in the sandbox, so a program never sees the
expected answers. Every accepted test records the first rule that accepted it.

Default rules for standard output (tried in order):

``exact``
    identical text after ``\\r\\n`` -> ``\\n``.
``trailing_whitespace``
    identical after stripping trailing spaces of every line and trailing blank lines.
``whitespace``
    the same whitespace-separated tokens in the same order (how most judges compare: line
    breaks and runs of spaces do not matter).
``numeric``
    the same number of tokens; each token pair is equal as text, or the expected token is an
    integer and the output's is an integer with the same value (compared as digit strings,
    exactly, whatever their size: ``007`` == ``7``; ``1e9`` or ``1.0`` are not integers), or the
    expected token has a fraction or exponent and the output's is a number within ``rel_tol`` /
    ``abs_tol`` of it (``math.isclose``). Tolerance applies only where a float is expected.

Default rules for call-based return values (APPS ``fn_name`` problems):

``exact``
    equal after normalising tuples to lists (recursively); ints compare exactly.
``numeric``
    same structure, floats within tolerance where the expected value is a float; an expected
    integer needs an integer (``True`` is not ``1``, ``1e9`` is not ``999999999``).
``unwrapped``
    the expected value is a one-element list (APPS's extra wrapper) and the value matches its
    element by one of the rules above.

``apps_compat`` mode adds, after the default rules, the lenient checks of APPS's own
``testing_util.py``: per-line stripped comparison (``apps_lines``), ``numpy.allclose`` over all
tokens (``apps_allclose``), order-insensitive token sets per line (``apps_token_sets``) and the same
with floats rounded to 3 decimals (``apps_rounded_sets``). These accept some wrong programs
(e.g. any permutation of the right tokens on a line) and exist only for comparability with
numbers reported on APPS.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_INT = re.compile(r"[+-]?\d+\Z")
_NUM = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)\Z")


@dataclass(frozen=True)
class CompareConfig:
    mode: str = "default"  # "default" | "exact" | "apps_compat"
    rel_tol: float = 1e-6
    abs_tol: float = 1e-6

    def __post_init__(self) -> None:
        if self.mode not in ("default", "exact", "apps_compat"):
            raise ValueError(f"compare mode {self.mode!r}: expected 'default', 'exact' or 'apps_compat'")


def _norm_newlines(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\r", "\n")


def _canonical_int(token: str) -> str:
    """An integer token as sign + digits without leading zeros (no ``int()``: no digit limit)."""
    sign = "-" if token[0] == "-" else ""
    digits = token.lstrip("+-").lstrip("0") or "0"
    return ("" if digits == "0" else sign) + digits


def _tokens_equal(got: str, expected: str, cfg: CompareConfig) -> bool:
    if got == expected:
        return True
    if _INT.match(expected):  # an integer is expected: only the same integer will do
        return bool(_INT.match(got)) and _canonical_int(got) == _canonical_int(expected)
    if _NUM.match(got) and _NUM.match(expected):
        fa, fb = float(got), float(expected)  # float() has no digit limit (huge values become inf)
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return math.isclose(fa, fb, rel_tol=cfg.rel_tol, abs_tol=cfg.abs_tol)
    return False


def compare_stdout(got: str, expected: str, cfg: CompareConfig = CompareConfig()) -> str | None:
    """The name of the first rule that accepts ``got`` for ``expected``, or None."""
    g, e = _norm_newlines(got), _norm_newlines(expected)
    if g == e:
        return "exact"
    if cfg.mode == "exact":
        return None
    g_lines = [ln.rstrip() for ln in g.split("\n")]
    e_lines = [ln.rstrip() for ln in e.split("\n")]
    while g_lines and not g_lines[-1]:
        g_lines.pop()
    while e_lines and not e_lines[-1]:
        e_lines.pop()
    if g_lines == e_lines:
        return "trailing_whitespace"
    g_tok, e_tok = g.split(), e.split()
    if g_tok == e_tok:
        return "whitespace"
    if len(g_tok) == len(e_tok) and all(_tokens_equal(a, b, cfg) for a, b in zip(g_tok, e_tok)):
        return "numeric"
    if cfg.mode == "apps_compat":
        return _apps_stdout_rules(g, e)
    return None


def _apps_stdout_rules(g: str, e: str) -> str | None:
    """APPS testing_util's lenient cascade (see module docstring)."""
    g_lines = [ln.strip() for ln in g.split("\n") if ln.strip()]
    e_lines = [ln.strip() for ln in e.split("\n") if ln.strip()]
    if g_lines == e_lines:
        return "apps_lines"
    try:
        gf = [float(t) for t in g.split()]
        ef = [float(t) for t in e.split()]
        if len(gf) == len(ef) and all(abs(a - b) <= 1e-8 + 1e-5 * abs(b) for a, b in zip(gf, ef)):
            return "apps_allclose"
    except ValueError:
        pass
    if {frozenset(ln.split()) for ln in g_lines} == {frozenset(ln.split()) for ln in e_lines}:
        return "apps_token_sets"
    try:
        gr = {frozenset(round(float(t), 3) for t in ln.split()) for ln in g_lines}
        er = {frozenset(round(float(t), 3) for t in ln.split()) for ln in e_lines}
        if gr == er:
            return "apps_rounded_sets"
    except ValueError:
        pass
    return None


def normalise_value(v: Any) -> Any:
    """Tuples become lists, recursively; what call-based expected outputs (JSON) look like."""
    if isinstance(v, (list, tuple)):
        return [normalise_value(x) for x in v]
    if isinstance(v, dict):
        return {k: normalise_value(x) for k, x in v.items()}
    return v


# Returned values arrive decoded by ``values.decode(..., plain=True)``; an object that is not
# plain data arrives as ``values.Opaque``, which equals nothing.


def _values_close(a: Any, b: Any, cfg: CompareConfig) -> bool:
    """``a`` (returned) close to ``b`` (expected): tolerance only where ``b`` is a float."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(b, int):
            return isinstance(a, int) and a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return math.isclose(a, b, rel_tol=cfg.rel_tol, abs_tol=cfg.abs_tol)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_values_close(x, y, cfg) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_close(a[k], b[k], cfg) for k in a)
    return a == b


def _value_rule(got: Any, expected: Any, cfg: CompareConfig) -> str | None:
    if type(got) is bool or type(expected) is bool:  # True must not equal 1
        return "exact" if type(got) is type(expected) and got == expected else None
    if got == expected and _same_shape(got, expected):
        return "exact"
    if cfg.mode != "exact" and _values_close(got, expected, cfg):
        return "numeric"
    return None


def _same_shape(a: Any, b: Any) -> bool:
    """Guard ``==`` against bool/int conflation and a float standing for an expected int."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same_shape(a[k], b[k]) for k in a if k in b)
    if type(b) is int and type(a) is float:
        return False
    return (type(a) is bool) == (type(b) is bool)


def compare_value(got: Any, expected: Any, cfg: CompareConfig = CompareConfig()) -> str | None:
    """Rule accepting a call-based return value (already decoded, see ``decode_value``), or None."""
    g, e = normalise_value(got), normalise_value(expected)
    rule = _value_rule(g, e, cfg)
    if rule:
        return rule
    if cfg.mode != "exact" and isinstance(e, list) and len(e) == 1 and _value_rule(g, e[0], cfg):
        return "unwrapped"
    if cfg.mode == "apps_compat" and isinstance(g, str) and isinstance(e, str):
        return _apps_stdout_rules(g, e)
    return None


def excerpt(text: str, limit: int) -> str:
    """At most ``limit`` characters, marking what was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"


def describe_mismatch(got: str, expected: str, limit: int = 120) -> str:
    """One line saying where the output first differs from the expected one."""
    g_tok, e_tok = got.split(), expected.split()
    for i, (a, b) in enumerate(zip(g_tok, e_tok)):
        if a != b:
            return f"token {i}: expected {excerpt(b, limit)!r}, got {excerpt(a, limit)!r}"
    if len(g_tok) != len(e_tok):
        return f"expected {len(e_tok)} tokens, got {len(g_tok)}"
    return "outputs differ in layout"
