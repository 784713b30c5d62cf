"""First-hit coverage (slipcover's bytecode probes) records exactly the lines a line tracer sees."""

from __future__ import annotations

import contextlib
import sys

from hypothesis import HealthCheck, given, settings
from program_strategies import programs

from stepcoder_lib.executor.tracing import LineTracer

NAME = "/sandbox/solution.py"


def _traced_lines(source: str) -> set[int]:
    """The reference: every 'line' event of a sys.settrace tracer."""
    lines: set[int] = set()

    def local(frame, event, arg):
        if event == "line":
            lines.add(frame.f_lineno)
        return local

    def global_(frame, event, arg):
        return local if frame.f_code.co_filename == NAME else None

    code = compile(source, NAME, "exec")
    sys.settrace(global_)
    try:
        exec(code, {"__name__": "__main__"})
    except Exception:
        pass
    finally:
        sys.settrace(None)
    return lines


def _probed_lines(source: str) -> set[int]:
    tracer = LineTracer(NAME)
    code = tracer.instrument(compile(source, NAME, "exec"))
    tracer.start()
    with contextlib.suppress(Exception):
        exec(code, {"__name__": "__main__"})
    return tracer.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_probes_see_the_lines_a_tracer_sees(generated):
    source, _ = generated
    assert _probed_lines(source) == _traced_lines(source)


def test_loops_pay_once_per_line():
    source = "s = 0\nfor i in range(50000):\n    if i % 2:\n        s += i\n    else:\n        s -= 1\n"
    assert _probed_lines(source) == _traced_lines(source) == {1, 2, 3, 4, 6}
    tracer = LineTracer(NAME)
    code = tracer.instrument(compile(source, NAME, "exec"))
    exec(code, {})
    assert tracer.newly_seen[NAME] == {1, 2, 3, 4, 6}  # recorded once each, by the first hit
