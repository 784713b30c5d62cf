"""Comparison rules, one by one, including what the default refuses and apps_compat accepts."""

from __future__ import annotations

import pytest

from stepcoder_lib.executor import values
from stepcoder_lib.executor.compare import CompareConfig, compare_stdout, compare_value
from stepcoder_lib.executor.values import Opaque


def encode_value(v):
    return values.encode(v)


def decode_value(node):
    return values.decode(node, plain=True)

DEFAULT, EXACT, APPS = CompareConfig(), CompareConfig("exact"), CompareConfig("apps_compat")


@pytest.mark.parametrize("got, expected, rule", [
    ("1 2\n", "1 2\n", "exact"),
    ("1 2\r\n", "1 2\n", "exact"),
    ("1 2  \n\n", "1 2\n", "trailing_whitespace"),
    ("1  2\n", "1 2\n", "whitespace"),
    ("1\n2", "1 2\n", "whitespace"),
    ("0.5000001", "0.5", "numeric"),
    ("1e3", "1000.0", "numeric"),
    ("1000", "1e3", "numeric"),  # an integer where a float is expected: within tolerance
    ("007", "7", "numeric"),
    ("-0", "0", "numeric"),
    ("-0.0", "0.0", "numeric"),
    ("+" + "9" * 5000, "9" * 5000, "numeric"),  # beyond int()'s 4,300-digit limit
])
def test_default_rules_accept(got, expected, rule):
    assert compare_stdout(got, expected, DEFAULT) == rule


@pytest.mark.parametrize("got, expected", [
    ("1 2", "2 1"),  # order matters
    ("0.51", "0.5"),  # beyond tolerance
    ("1000000000000000000001", "1000000000000000000000"),  # big ints exactly, not as floats
    ("1.0", "1"),  # a fraction where an integer was asked is not an integer
    ("1e9", "999999999"),  # nor is an exponent, even a close one
    ("-0.0", "0"),
    ("9" * 5001, "9" * 5000),
    ("1e17", "100000000000000001"),
    ("YES", "yes"),  # case matters
    ("", "0"),
    ("nan", "nan0"),
    ("inf", "1e308"),
])
def test_default_rules_reject(got, expected):
    assert compare_stdout(got, expected, DEFAULT) is None


def test_exact_mode_only_exact():
    assert compare_stdout("1 2\n", "1 2\n", EXACT) == "exact"
    assert compare_stdout("1 2 \n", "1 2\n", EXACT) is None


def test_apps_compat_is_lenient_where_default_is_not():
    assert compare_stdout("2 1\n", "1 2\n", DEFAULT) is None
    assert compare_stdout("2 1\n", "1 2\n", APPS) == "apps_token_sets"
    assert compare_stdout("100.0005\n", "100.0\n", DEFAULT) is None
    assert compare_stdout("100.0005\n", "100.0\n", APPS) == "apps_allclose"
    assert compare_stdout("3.14159 x\n", "3.1416 x\n", APPS) is None
    assert compare_stdout("3.14159\n2.0001\n", "2.0001\n3.14160\n", APPS) == "apps_rounded_sets"


def test_call_values():
    assert compare_value([1, [2, 3]], [1, [2, 3]]) == "exact"
    assert compare_value((1, (2, 3)), [1, [2, 3]]) == "exact"
    assert compare_value(5, [5]) == "unwrapped"
    assert compare_value([5], [[5]]) == "unwrapped"
    assert compare_value(0.30000000000000004, 0.3) == "numeric"
    assert compare_value(True, 1) is None and compare_value(1, True) is None
    assert compare_value([True], [1]) is None
    assert compare_value(1, 1.0) == "exact"  # an int where a float is expected
    assert compare_value(1e9, 999999999) is None and compare_value(1e17, 10 ** 17 + 1) is None
    assert compare_value(1.0, 1) is None  # an integer answer must be an integer
    assert compare_value("a", "b") is None
    assert compare_value({"a": 1}, {"a": 1}) == "exact"
    assert compare_value(5, [5], EXACT) is None


def test_encode_decode_round_trip_and_opaque_objects():
    class Weird:
        def __eq__(self, other):
            return True

    for value in [1, -(10 ** 30), 1.5, "s", None, True, [1, (2, 3)], {"k": [1]}]:
        decoded = decode_value(encode_value(value))
        assert compare_value(decoded, value) in ("exact", "numeric")
    assert decode_value(encode_value(float("nan"))) != decode_value(encode_value(float("nan")))
    assert isinstance(decode_value(encode_value(Weird())), Opaque)
    assert decode_value(encode_value(Weird())) != 1
    assert decode_value(encode_value({1: "a"})) == {1: "a"}
    assert decode_value(encode_value({1, 2})) == {1, 2}


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="compare mode"):
        CompareConfig("fuzzy")
