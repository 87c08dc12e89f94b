"""The fast call path of a build as one straight-line Python function (generated once).

``Build``'s fast program (runtime/executor.py) is a list of plain host kernels, each with
its argument slots and the buffers it allocates.  Interpreting that list on every call
costs ~0.6 us of Python per kernel (slot lists, tuple unpacking, an itemgetter, the pool's
dict updates) on top of the kernel call itself: about as much as the kernels of a small
step.  ``straight_line`` writes the same program out once as Python source, one local
variable per slot, and ``exec``-s it: the per-call work left is the kernel calls, one pool
lookup per fresh buffer, and the outputs' list.

Kernels take ``tvm_ffi`` tensors: a pooled buffer's tensor is made once with the buffer
(executor._tensor_wrap), the inputs' and the spare buffers' once per call (a numpy argument
costs the FFI more per use than one explicit ``from_dlpack``).  A kernel reading complex
values takes the numpy arrays (``complex_args`` wraps it).  Semantics are those of the
interpreted loop: a pooled buffer is reused only while nobody outside holds it, outputs
listed twice are copies, and an error names the kernel that raised it.
"""
from __future__ import annotations

import sys

import numpy as np

from .steps import annotate

#: compiled fast paths by source (the shapes live in the environment, not in the source)
_CODE = {}


def straight_line(prog, plain, fast_slots, n_in, template, pool, out_plan, records,
                  unpack_single, wrap, held, memo=None):
    """``run(args, spares=()) -> outputs`` for the fast program ``prog`` (tuples ``(fn,
    getargs, given, allocs)`` as ``Build._compile_fast_body`` makes them; ``plain[i]``:
    kernel i takes tensors; ``fast_slots[i]``: its argument slots), or None when a kernel
    reads a slot that is not a plain storage slot (the interpreted loop runs it).

    ``memo``: a dict shared by the builds of one program at different shapes
    (``Build.at_shapes``): the compiled source is kept there, so another shape only fills
    the environment (kernels, shapes, constants)."""
    if any(s < 0 for slots in fast_slots for s in slots):
        return None
    env = {"_rc": sys.getrefcount, "_empty": np.empty, "_wrap": wrap, "_pool": pool,
           "_pget": pool.get, "_annotate": annotate, "_records": records}
    for s, c in enumerate(template):
        if c is not None and s >= n_in:     # a build constant: both forms made once
            env[f"a{s}"], env[f"t{s}"] = c, wrap(c)
    for i, (fn, _, _, allocs) in enumerate(prog):
        env[f"f{i}"] = fn
        for s, shape, dtype in allocs:
            env[f"sh{s}"], env[f"dt{s}"] = shape, dtype
    code = memo.get("code") if memo is not None else None
    if code is None:
        code = _compile(prog, plain, fast_slots, n_in, template, out_plan, unpack_single, held)
        if memo is not None:
            memo["code"] = code
    exec(code, env)     # noqa: S102  (our own generated source: slots and kernel names only)
    return env["run"]


def _compile(prog, plain, fast_slots, n_in, template, out_plan, unpack_single, held):
    src = ["def run(args, spares=()):"]
    src.append("    (" + "".join(f"a{k}, " for k in range(n_in)) + ") = args" if n_in else "    pass")
    src += [f"    t{k} = _wrap(a{k})" for k in range(n_in)]
    src += ["    k = 0", "    try:"]
    body = []
    for i, ((_, _, given, allocs), p, slots) in enumerate(zip(prog, plain, fast_slots)):
        for s, d in given:
            body += [f"a{s} = spares[{d}]", f"t{s} = _wrap(a{s})"]
        for s, _, _ in allocs:
            # (array, tensor) pairs under key ~s, as the interpreted loop keeps them
            body += [f"e = _pget({~s})",
                     f"if e is None or _rc(e[0]) > {held}:",
                     f"    a = _empty(sh{s}, dt{s})",
                     f"    e = _pool[{~s}] = (a, _wrap(a))",
                     f"a{s}, t{s} = e"]
        body.append(f"f{i}(" + ", ".join(f"{'t' if p else 'a'}{s}" for s in slots) + ")")
        body.append(f"k = {i + 1}")
    src += ["        " + line for line in body] or ["        pass"]
    src += ["    except Exception as exc:",
            "        raise _annotate(exc, _records[k])",
            "    e = a = None"]
    outs = ", ".join(f"a{s}.copy()" if copy else f"a{s}" for s, copy in out_plan)
    src.append(f"    return {outs.split(', ')[0] if unpack_single else '[' + outs + ']'}")
    text = "\n".join(src) + "\n"
    code = _CODE.get(text)      # (a new input shape of a generic build: the same source)
    if code is None:
        if len(_CODE) > 512:
            _CODE.clear()
        code = _CODE[text] = compile(text, "<tvmsym fast path>", "exec")
    return code
