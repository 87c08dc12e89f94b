"""Replay the seed transcript end to end: ``python -m tvmsym.demo``.

Every ``>>>`` line of the transcript (../shared/seed/) runs as it would at the Python
prompt (an expression's value is printed with its repr) and its real result is shown.
Pictures go to ``config.compiledir``, never into the source tree.  A step that needs a
part of tvmsym that is missing here (a GPU, a Graphviz renderer) prints a one-line note
and the replay goes on.
"""
from __future__ import annotations

import sys
import time
import traceback

# The transcript, in order. ("note", text) lines are the tutorial's prose, shortened.
SCRIPT = [
    ("note", "Graphs and symbolic computing: the addition example, displayed in different ways"),
    ("code", "import numpy"),
    ("code", "import tvmsym as theano"),
    ("code", "import tvmsym.tensor as T"),
    ("code", "x = T.matrix('x')"),
    ("code", "y = T.matrix('y')"),
    ("code", "z = x + y"),
    ("code", "z"),
    ("code", "theano.pp(z)"),
    ("code", "theano.printing.pprint(z)"),
    ("code", "theano.printing.debugprint(z)"),
    ("note", "pydotprint writes a picture of the graph (Graphviz `dot` or graphviz-pure)"),
    ("optional", "theano.printing.pydotprint(z)"),
    ("note", "z.eval compiles (optimize + TVM build for llvm) the first time it runs"),
    ("timed", "z.eval({x: [[1, 2], [1, 3]], y: [[1, 0], [3, 4]]})"),
    ("code", "addition = theano.function([x, y], [z])"),
    ("timed", "addition([[1, 2], [1, 3]], [[1, 0], [3, 4]])"),
    ("note", "the compiled graph, with topological order numbers"),
    ("optional", "theano.printing.debugprint(addition)"),
    ("optional", "theano.printing.pydotprint(addition)"),
    ("note", "on the GPU the graph gets GpuFromHost / HostFromGpu transfers (built, not run, here)"),
    ("gpu", "theano.printing.debugprint(theano.function([x, y], [z]))"),
    ("note", "elementwise operations are grouped (fused) into one Composite node"),
    ("code", "z = z * x"),
    ("optional", "theano.printing.debugprint(theano.function([x, y], z))"),
    ("gpu", "theano.printing.debugprint(theano.function([x, y], z))"),
    ("note", "setting initial values with NumPy"),
    ("code", "theano.config.floatX"),
    ("code", "x = T.matrix()"),
    ("code", "x"),
    ("code", "y = T.matrix()"),
    ("code", "addition = theano.function([x, y], [x+y])"),
    ("code", "addition(numpy.ones((2,2)),numpy.zeros((2,2)))"),
    ("code", "addition(numpy.ones((2,2), dtype=theano.config.floatX),"
             "numpy.zeros((2,2), dtype=theano.config.floatX))"),
    ("code", "addition(numpy.ones((2,2)).astype(theano.config.floatX),"
             "numpy.diag((2,3)).astype(theano.config.floatX))"),
    ("code", "addition = theano.function([x, y], [x+y],allow_input_downcast=True)"),
    ("code", "addition(numpy.ones((2,2)),numpy.zeros((2,2)))"),
]


def _run(line, env, out):
    """Run one prompt line as the interactive interpreter would ('single' mode)."""
    code = compile(line, "<stdin>", "single")
    old = sys.stdout
    sys.stdout = out
    try:
        exec(code, env)
    finally:
        sys.stdout = old


def _show_error(e, out):
    out.write("Traceback (most recent call last):\n  File \"<stdin>\", line 1, in <module>\n")
    out.write("".join(traceback.format_exception_only(type(e), e)))


def main(out=None):
    """Replay the seed transcript, printing each ``>>>`` line and its result."""
    out = out or sys.stdout
    env = {"__name__": "__console__"}
    for kind, text in SCRIPT:
        if kind == "note":
            out.write(f"\n# {text}\n")
            continue
        if kind == "gpu":     # say how the GPU part is compiled: device=cuda, built not run
            out.write(f">>> with theano.config.change_flags(device='cuda'):\n...     {text}\n")
        else:
            out.write(f">>> {text}\n")
        t0 = time.perf_counter()
        try:
            if kind == "gpu":
                _run_on_gpu(text, env, out)
            else:
                _run(text, env, out)
        except Exception as e:   # noqa: BLE001  -- a demo shows the error, as the prompt would
            if kind == "code" or kind == "timed":
                _show_error(e, out)
            else:
                first = (str(e).strip().splitlines() or [""])[0]
                out.write(f"(not available here: {type(e).__name__}: {first[:160]})\n")
        if kind == "timed":
            out.write(f"# took {time.perf_counter() - t0:.2f} s\n")
    out.flush()
    return env


def _run_on_gpu(text, env, out):
    """Compile with device=cuda (CUDA source/PTX needs no GPU) and show the placed graph."""
    from .config import config
    with config.change_flags(device="cuda"):
        _run(text, env, out)


if __name__ == "__main__":
    main()
