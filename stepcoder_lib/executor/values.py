"""Plain data across the sandbox boundary: a tagged encoding that no program value can imitate.

Every node is a JSON list whose first item names its type (``["i", "-1f"]``, ``["l", [...]]``),
so a returned dict with a ``"__float__"`` key is just a dict: nothing a program returns can be
read back as something else. Integers travel as hexadecimal, which has no digit limit (Python
refuses ``str()``/``int()`` on decimal strings over 4,300 digits). Common containers and numeric
types (``Counter``, ``deque``, ``OrderedDict``, ``defaultdict``, numpy scalars and arrays,
``Fraction``, ``Decimal``) are normalised to plain data; anything else is a *handle*: an id the
program's process resolves when the judge passes it back, which equals nothing on the judge's side.

The encoder runs inside the program's process, so a program can make it emit anything: that is
no worse than returning that value. The decoder is the boundary: it accepts only the tags below,
bounded in depth and size, and raises ``ValueError`` on anything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 100
_BUILTIN_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bool, list, tuple, dict, set, frozenset,
                                          type(None), object)}


class Handle:
    """A value the program's process keeps; the judge side sees only its id and type name."""

    __slots__ = ("id", "type_name", "callable")

    def __init__(self, id: int, type_name: str, callable: bool) -> None:
        self.id, self.type_name, self.callable = id, type_name, callable

    def __repr__(self) -> str:
        return f"<{self.type_name} object of the program>"


def encode(v: Any, handle: Callable[[Any], int] | None = None, depth: int = 0) -> Any:
    """``v`` as tagged plain data; ``handle(obj) -> id`` keeps other objects (None: opaque)."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    t = type(v)
    if v is None:
        return ["n"]
    if t is bool:
        return ["b", v]
    if t is int:
        return ["i", format(v, "x")]
    if t is float:
        return ["f", v.hex()]
    if t is str:
        return ["s", v]
    if t is complex:
        return ["c", v.real.hex(), v.imag.hex()]
    if t is bytes or t is bytearray:
        return ["y", bytes(v).hex()]
    d = depth + 1
    if t is list:
        return ["l", [encode(x, handle, d) for x in v]]
    if t is tuple:
        return ["t", [encode(x, handle, d) for x in v]]
    if t is dict:
        return ["d", [[encode(k, handle, d), encode(x, handle, d)] for k, x in v.items()]]
    if t is set or t is frozenset:
        return ["S" if t is set else "F", [encode(x, handle, d) for x in v]]
    if t is type and v.__name__ in _BUILTIN_TYPES and _BUILTIN_TYPES[v.__name__] is v:
        return ["T", v.__name__]
    special = _encode_special(v, t, handle, d)
    if special is not None:
        return special
    if handle is None:
        return ["o", _type_name(t)]
    return ["h", handle(v), _type_name(t), callable(v)]


def _type_name(t: type) -> str:
    name = getattr(t, "__name__", "object")
    return name[:100] if isinstance(name, str) else "object"


def _encode_special(v: Any, t: type, handle: Any, d: int) -> Any:
    """Standard-library containers and numbers, and numpy's, by their exact type."""
    module = getattr(t, "__module__", "")
    name = getattr(t, "__qualname__", "")
    if module == "collections":
        if name == "Counter":
            return ["counter", [[encode(k, handle, d), encode(x, handle, d)] for k, x in dict.items(v)]]
        if name == "OrderedDict":
            return ["od", [[encode(k, handle, d), encode(x, handle, d)] for k, x in dict.items(v)]]
        if name == "defaultdict":
            return ["d", [[encode(k, handle, d), encode(x, handle, d)] for k, x in dict.items(v)]]
        if name == "deque":
            return ["deque", [encode(x, handle, d) for x in v]]
    elif module == "fractions" and name == "Fraction":
        return ["frac", format(v.numerator, "x"), format(v.denominator, "x")]
    elif module == "decimal" and name == "Decimal":
        return ["dec", str(v)]
    elif module == "numpy":
        if name == "ndarray":
            if v.dtype.kind in "biufc" and v.size <= 10_000_000:
                return ["nd", encode(v.tolist(), handle, d)]
        elif hasattr(v, "dtype") and hasattr(v, "item") and v.dtype.kind in "biufc":
            return encode(v.item(), handle, d)  # numpy scalar: its Python value
    return None


def dumps(v: Any, handle: Callable[[Any], int] | None = None) -> str:
    return json.dumps(encode(v, handle), ensure_ascii=True, separators=(",", ":"))


# --- decoding (the trusted side) ---------------------------------------------------------------
class Opaque:
    """A returned object that is not plain data: it equals nothing."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted(((_hashable(k), _hashable(x)) for k, x in v.items()), key=repr))
    if isinstance(v, set):
        return frozenset(v)
    return v


def decode(node: Any, *, plain: bool = False, make_handle: Callable[[Handle], Any] | None = None,
           depth: int = 0) -> Any:
    """Rebuild a value from ``encode``'s output; ``ValueError`` on anything malformed.

    ``plain=True`` (the parent's comparison of call-based results) gives JSON-like data: tuples
    and deques become lists, every mapping a dict, numpy arrays lists, ``Fraction``/``Decimal``
    floats; handles and opaque objects become ``Opaque``. Otherwise types are kept (the judge
    process running assert-style tests) and handles go through ``make_handle``.
    """
    if depth > 2 * MAX_DEPTH + 2:
        raise ValueError("value nested too deeply")
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise ValueError("malformed value")
    tag, args, d = node[0], node[1:], depth + 1

    def items(k: int = 0) -> list[Any]:
        if len(args) <= k or not isinstance(args[k], list):
            raise ValueError(f"malformed {tag!r} value")
        return args[k]

    def text(k: int = 0) -> str:
        if len(args) <= k or not isinstance(args[k], str) or len(args[k]) > 50_000_000:
            raise ValueError(f"malformed {tag!r} value")
        return args[k]

    def pairs() -> list[tuple[Any, Any]]:
        out = []
        for p in items():
            if not isinstance(p, list) or len(p) != 2:
                raise ValueError("malformed mapping")
            k = decode(p[0], plain=plain, make_handle=make_handle, depth=d)
            out.append((_hashable(k) if plain else k, decode(p[1], plain=plain, make_handle=make_handle, depth=d)))
        return out

    def seq() -> list[Any]:
        return [decode(x, plain=plain, make_handle=make_handle, depth=d) for x in items()]

    try:
        if tag == "n":
            return None
        if tag == "b":
            if len(args) != 1 or type(args[0]) is not bool:
                raise ValueError("malformed bool")
            return args[0]
        if tag == "i":
            return int(text(), 16)
        if tag == "f":
            return float.fromhex(text())
        if tag == "s":
            return text()
        if tag == "c":
            return complex(float.fromhex(text(0)), float.fromhex(text(1)))
        if tag == "y":
            return bytes.fromhex(text())
        if tag in ("l", "deque", "nd"):
            if tag == "nd":
                inner = decode(args[0] if args else None, plain=plain, make_handle=make_handle, depth=d)
                return inner if isinstance(inner, list) else [inner]
            values = seq()
            if tag == "deque" and not plain:
                from collections import deque  # lazy: a sandbox process imports only what it uses
                return deque(values)
            return values
        if tag == "t":
            return seq() if plain else tuple(seq())
        if tag in ("d", "counter", "od"):
            mapping = dict(pairs())
            if not plain and tag == "counter":
                from collections import Counter  # lazy: a sandbox process imports only what it uses
                return Counter(mapping)
            if not plain and tag == "od":
                from collections import OrderedDict  # lazy: a sandbox process imports only what it uses
                return OrderedDict(pairs())
            return mapping
        if tag in ("S", "F"):
            values = [_hashable(x) for x in seq()] if plain else seq()
            return set(values) if tag == "S" else frozenset(values)
        if tag == "frac":
            from fractions import Fraction  # lazy: a sandbox process imports only what it uses
            f = Fraction(int(text(0), 16), int(text(1), 16))
            return float(f) if plain else f
        if tag == "dec":
            from decimal import Decimal  # lazy: a sandbox process imports only what it uses
            dec = Decimal(text())
            return float(dec) if plain else dec
        if tag == "T":
            t = _BUILTIN_TYPES.get(text())
            if t is None:
                raise ValueError("unknown type")
            return Opaque("type") if plain else t
        if tag == "o":
            return Opaque(text())
        if tag == "h":
            if len(args) != 3 or type(args[0]) is not int or not isinstance(args[1], str) or type(args[2]) is not bool:
                raise ValueError("malformed handle")
            h = Handle(args[0], args[1][:100], args[2])
            return Opaque(h.type_name) if plain or make_handle is None else make_handle(h)
    except (TypeError, OverflowError, ArithmeticError) as exc:  # e.g. Fraction(1, 0), bad hex
        raise ValueError(f"malformed {tag!r} value: {exc}") from None
    raise ValueError(f"unknown tag {tag!r}")


def loads(text: str | bytes, **kw: Any) -> Any:
    try:
        node = json.loads(text)
    except RecursionError:
        raise ValueError("value nested too deeply") from None
    return decode(node, **kw)


def is_plain(node: Any) -> bool:
    """True when an encoded value holds no handle (so it can be copied to the judge as data)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list) and n:
            if isinstance(n[0], str):  # a node: its tag, then its payload
                if n[0] in ("h", "o"):
                    return False
                stack.extend(n[1:])
            else:  # a payload list of nodes (or of key/value pairs)
                stack.extend(n)
    return True


def safe_repr(v: Any, limit: int = 200) -> str:
    """``repr`` bounded in length that never fails (huge ints, odd objects)."""
    try:
        if type(v) is int and v.bit_length() > 10_000:
            text = f"<int of about {int(v.bit_length() * math.log10(2)) + 1} digits>"
        else:
            text = repr(v)
    except Exception as exc:  # e.g. ValueError: exceeds the limit for integer string conversion
        text = f"<{type(v).__name__}: {type(exc).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."
