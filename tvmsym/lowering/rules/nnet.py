"""TE computes for Softmax / LogSoftmax: max, exp-sum and the elementwise parts as separate
computes of one kernel; the CPU schedule (schedules/cpu_reduce.py) fuses them per row."""
from __future__ import annotations

from ... import _tvm
from ...symbolic.ops.nnet import LogSoftmax, Softmax
from . import lower_rule
from .reduce import fmax
from .scalar import cast, const

te, tirx = _tvm.te, _tvm.tirx


@lower_rule(Softmax, LogSoftmax)
def lower_softmax(node, inputs, ctx):
    (x,), xv, ov = inputs, node.inputs[0], node.outputs[0]
    dtype = ov.type.dtype
    shape = ctx.shape(xv)
    nd = len(shape)
    axis = node.op.axis % nd
    name = ctx.name(node)
    outer = [s for d, s in enumerate(shape) if d != axis]

    def at(o, k):
        """x at the outer index ``o`` (a tuple without ``axis``) and position ``k`` along it."""
        idx = list(o[:axis]) + [k] + list(o[axis:])
        return cast(x(*idx) if x is not None else ctx.scalar_value(xv), dtype)

    def split(i):
        return i[:axis] + i[axis + 1:], i[axis]

    km = te.reduce_axis((0, shape[axis]), name="k")
    mx = te.compute(outer, lambda *o: fmax(at(o, km), axis=km), name=name + "_max", tag="reduce")
    if isinstance(node.op, LogSoftmax):
        ks = te.reduce_axis((0, shape[axis]), name="k")
        s = te.compute(outer, lambda *o: te.sum(tirx.exp(at(o, ks) - mx(*o)), axis=ks),
                       name=name + "_sum", tag="reduce")
        ls = te.compute(outer, lambda *o: tirx.log(s(*o)), name=name + "_lse")

        def body(*i):
            o, k = split(i)
            return (at(o, k) - mx(*o)) - ls(*o)      # x - max first: exact, and small
        return [te.compute(shape, body, name=name, tag="softmax")]
    e = te.compute(shape, lambda *i: tirx.exp(at(*split(i)) - mx(*split(i)[0])), name=name + "_exp")

    def eat(o, k):
        return e(*(list(o[:axis]) + [k] + list(o[axis:])))

    ks = te.reduce_axis((0, shape[axis]), name="k")
    s = te.compute(outer, lambda *o: te.sum(eat(o, ks), axis=ks), name=name + "_sum", tag="reduce")
    r = te.compute(outer, lambda *o: const(1, dtype) / s(*o), name=name + "_rcp")

    def body(*i):
        o, k = split(i)
        return eat(o, k) * r(*o)
    return [te.compute(shape, body, name=name, tag="softmax")]
