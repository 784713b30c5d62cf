"""The normalised unit-test form that every loader produces and the executor consumes.

Three formats cover APPS, MBPP and HumanEval:

* ``stdin``: ``inputs[i]`` is the text fed on standard input, ``outputs[i]`` the expected
  standard output (APPS stdin/stdout problems).
* ``call``: ``inputs[i]`` is the list of positional arguments passed to ``fn_name`` (a
  module-level function, or a method of ``class Solution`` for LeetCode-style problems),
  ``outputs[i]`` the expected return value (APPS call-based problems).
* ``assert``: ``inputs[i]`` is Python test code that runs after the program in the same
  namespace and passes when it raises nothing (MBPP ``test_list``, HumanEval
  ``check(candidate)``); ``outputs`` is empty. ``setup_code`` runs after the program and before
  the test (MBPP ``test_setup_code``, which builds fixtures from classes the program defines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TestFormat = Literal["stdin", "call", "assert"]
FORMATS: tuple[str, ...] = ("stdin", "call", "assert")


class InvalidTestCases(ValueError):
    """Raised with a message naming the offending field."""


@dataclass(frozen=True)
class TestCases:
    """Unit tests of one problem in normalised form (see the module docstring)."""

    __test__ = False  # not a pytest test class

    format: TestFormat
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...] = ()
    fn_name: str | None = None
    setup_code: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __len__(self) -> int:
        return len(self.inputs)

    def validate(self) -> None:
        """Check the invariants; raise InvalidTestCases naming the field that breaks one."""
        if self.format not in FORMATS:
            raise InvalidTestCases(f"field 'format': {self.format!r} is not one of {FORMATS}")
        if not isinstance(self.inputs, (tuple, list)):
            raise InvalidTestCases(f"field 'inputs': expected a list, got {type(self.inputs).__name__}")
        if len(self.inputs) == 0:
            raise InvalidTestCases("field 'inputs': no tests")
        if not isinstance(self.setup_code, str):
            raise InvalidTestCases("field 'setup_code': expected a string")
        if self.format == "assert":
            if self.outputs:
                raise InvalidTestCases("field 'outputs': assert-style tests carry no outputs")
            for i, code in enumerate(self.inputs):
                if not isinstance(code, str):
                    raise InvalidTestCases(f"field 'inputs[{i}]': assert test must be code (str)")
            return
        if len(self.outputs) != len(self.inputs):
            raise InvalidTestCases(
                f"field 'outputs': {len(self.outputs)} outputs for {len(self.inputs)} inputs"
            )
        if self.format == "stdin":
            for name, seq in (("inputs", self.inputs), ("outputs", self.outputs)):
                for i, value in enumerate(seq):
                    if not isinstance(value, str):
                        raise InvalidTestCases(
                            f"field '{name}[{i}]': stdin tests need strings, got {type(value).__name__}"
                        )
        else:  # call
            if not self.fn_name or not isinstance(self.fn_name, str) or not self.fn_name.isidentifier():
                raise InvalidTestCases(f"field 'fn_name': call-based tests need a function name, got {self.fn_name!r}")
            for i, args in enumerate(self.inputs):
                if not isinstance(args, (list, tuple)):
                    raise InvalidTestCases(f"field 'inputs[{i}]': call arguments must be a list")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "fn_name": self.fn_name,
            "setup_code": self.setup_code,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestCases:
        return cls(
            format=d["format"],
            inputs=tuple(d.get("inputs") or ()),
            outputs=tuple(d.get("outputs") or ()),
            fn_name=d.get("fn_name"),
            setup_code=d.get("setup_code") or "",
        )
