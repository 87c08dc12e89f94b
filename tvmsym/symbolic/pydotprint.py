"""``pydotprint``: a picture of a graph or of a compiled function, through pydot and Graphviz.

Apply nodes are boxes (coloured by op family, as Theano's), variables are ellipses:
inputs green, outputs blue, constants grey, shared variables magenta; a fused
node's box shows its Composite expression.  Graphviz's ``dot`` is used when it is
on PATH, else the ``graphviz-pure`` executable (PyPI, installed with tvmsym).
"""
from __future__ import annotations

import os
import shutil
import sys

from ..config import config
from .graph import Constant, Variable, graph_inputs, toposort

INPUT_COLOR = "limegreen"
OUTPUT_COLOR = "dodgerblue"
CONSTANT_COLOR = "lightgrey"
SHARED_COLOR = "magenta"
OP_COLORS = {"Elemwise": "#FFAABB", "DimShuffle": "#FFAAFF", "GpuFromHost": "red",
             "HostFromGpu": "red", "CAReduce": "#AAFFAA", "Dot": "#FFAA22"}
RAW_FORMATS = ("dot", "raw", "canon")


class GraphvizNotFound(RuntimeError):
    pass


def find_graphviz():
    """Path of the program that renders: ``dot``, else ``graphviz-pure``; None if neither."""
    found = shutil.which("dot")
    if found:
        return found
    found = shutil.which("graphviz-pure")
    if found:
        return found
    here = os.path.join(os.path.dirname(sys.executable), "graphviz-pure")   # venv not on PATH
    return here if os.access(here, os.X_OK) else None


def _graph_of(obj):
    """(inputs, outputs, order numbers or None) of a variable, list or compiled function."""
    if hasattr(obj, "maker") and hasattr(obj.maker, "fgraph"):
        fg = obj.maker.fgraph
        order = {n: k for k, n in enumerate(fg.toposort())}
        return list(fg.inputs), list(fg.outputs), order
    if hasattr(obj, "outputs") and hasattr(obj, "clients"):
        return list(obj.inputs), list(obj.outputs), {n: k for k, n in enumerate(obj.toposort())}
    if hasattr(obj, "op") and hasattr(obj, "outputs"):          # an Apply node
        obj = list(obj.outputs)
    outs = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    if not all(isinstance(o, Variable) for o in outs):
        raise TypeError(f"pydotprint needs a variable, a list of variables or a compiled "
                        f"function, got {type(obj).__name__}")
    return [v for v in graph_inputs(outs) if not isinstance(v, Constant)], outs, None


def _op_color(op):
    for cls in type(op).__mro__:
        name = cls.__name__
        for key, color in OP_COLORS.items():
            if name.startswith(key) or name == key:
                return color
    return "white"


def _quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(obj, graph_name="G", rankdir="TB"):
    """The pydot.Dot of ``obj`` (needs pydot; Graphviz only to render it)."""
    import pydot
    inputs, outputs, order = _graph_of(obj)
    dot = pydot.Dot(graph_name=graph_name, graph_type="digraph", rankdir=rankdir)
    ids = {}

    def var_node(v):
        if v in ids:
            return ids[v]
        ids[v] = vid = f"v{len(ids)}"
        shared = hasattr(v, "get_value")
        if isinstance(v, Constant):
            label, color = f"{v}\n{v.type}" if v.data.size <= 8 else str(v.type), CONSTANT_COLOR
        elif shared:
            label, color = f"{v.name or 'shared'}\n{v.type}", SHARED_COLOR
        elif v.owner is None or any(v is i for i in inputs):
            label, color = f"{v.name}\n{v.type}" if v.name else str(v.type), INPUT_COLOR
        else:
            label, color = (f"{v.name}\n{v.type}" if v.name else str(v.type)), "white"
        if any(v is o for o in outputs):
            color = OUTPUT_COLOR
        dot.add_node(pydot.Node(vid, label=_quote(label), shape="ellipse", style="filled",
                                fillcolor=_quote(color)))
        return vid

    for k, node in enumerate(toposort(outputs, blockers=inputs)):
        nid = f"n{k}"
        label = str(node.op)
        if order is not None and node in order:
            label += f"  {order[node]}"
        dot.add_node(pydot.Node(nid, label=_quote(label), shape="box", style="filled",
                                fillcolor=_quote(_op_color(node.op))))
        for i, v in enumerate(node.inputs):
            attrs = {"label": _quote(str(i))} if len(node.inputs) > 1 else {}
            dot.add_edge(pydot.Edge(var_node(v), nid, **attrs))
        for j, o in enumerate(node.outputs):
            attrs = {"label": _quote(str(j))} if len(node.outputs) > 1 else {}
            dot.add_edge(pydot.Edge(nid, var_node(o), **attrs))
    for o in outputs:
        var_node(o)
    return dot


def _renderer(prog):
    prog = prog or find_graphviz()
    if prog is None:
        raise GraphvizNotFound(
            "pydotprint needs a Graphviz renderer: neither `dot` (Graphviz, e.g. apt-get "
            "install graphviz) nor `graphviz-pure` (pip install graphviz-pure) was found on "
            "PATH; install one, or use format='dot' to write the Graphviz source")
    return prog


def pydotprint(obj, outfile=None, format="png", print_output_file=True, rankdir="TB",
               compact=True, var_with_name_simple=False, return_image=False, prog=None):
    """Write a picture of ``obj`` (a variable, a list of them, an Apply or a compiled function).

    Without ``outfile`` the file is ``<config.compiledir>/tvmsym.pydotprint.<device>.<format>``.
    ``format`` is any Graphviz output format ('png', 'svg', 'pdf' ...) or 'dot' for the
    Graphviz source (no renderer needed).  Prints ``The output file is available at PATH``
    and returns None, as Theano's; with ``return_image=True`` returns the image's bytes.
    """
    if return_image:
        dot = to_dot(obj, rankdir=rankdir)
        if format in RAW_FORMATS:
            return dot.to_string().encode()
        return dot.create(prog=_renderer(prog), format=format)
    if outfile is None:
        outfile = os.path.join(config.compiledir, f"tvmsym.pydotprint.{config.device}.{format}")
    outfile = os.path.abspath(os.path.expanduser(outfile))
    os.makedirs(os.path.dirname(outfile), exist_ok=True)
    dot = to_dot(obj, rankdir=rankdir)
    if format in RAW_FORMATS:
        with open(outfile, "w") as fh:
            fh.write(dot.to_string())
    else:
        dot.write(outfile, prog=_renderer(prog), format=format)
    if print_output_file:
        print(f"The output file is available at {outfile}")
