"""Debugging ops: ``Print`` (Theano's ``theano.printing.Print``).

``Print('message')(x)`` is ``x``; each time a compiled function computes it, it prints
``message __str__ = <x>`` (one line per attribute in ``attrs``).  It runs in numpy (a
host step), is never constant-folded, and passes the gradient through.
"""
from __future__ import annotations

from ..basic import as_tensor_variable
from ..graph import Apply, Op

__all__ = ["Print"]


class Print(Op):
    """Print ``message`` and ``attrs`` of the value each time it is computed; return it."""

    host_only = "prints from Python"

    __props__ = ("message", "attrs")

    def __init__(self, message="", attrs=("__str__",), global_fn=None):
        self.message = message
        self.attrs = tuple(attrs)
        self.global_fn = global_fn      # called as global_fn(op, value) instead of printing

    def __str__(self):
        return f"Print{{{self.message}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def do_constant_folding(self, node):
        return False

    def perform(self, node, inputs):
        (x,) = inputs
        if self.global_fn is not None:
            self.global_fn(self, x)
        else:
            for attr in self.attrs:
                temp = getattr(x, attr)
                if callable(temp):
                    temp = temp()
                print(self.message, attr, "=", temp)
        return [x]

    def grad(self, inputs, output_grads):
        return list(output_grads)
