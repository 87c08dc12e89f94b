"""Printing graphs: ``pp`` (an expression string) and ``debugprint`` (Theano's tree)."""
from __future__ import annotations

import sys

from . import scalar as ps
from .elemwise import DimShuffle, Elemwise
from .graph import Constant, Variable, format_constant

# tensor-level pp of scalar ops, as Theano 1.0.5 prints them: comparisons are functions
# (gt(x, y): Composite names keep GT), the logical ops are operators, fill is second's name
_PP_FUNC = {"eq": "eq", "neq": "neq", "lt": "lt", "gt": "gt", "le": "le", "ge": "ge",
            "second": "fill"}
_PP_FMT = {"and_": "({0} & {1})", "or_": "({0} | {1})", "xor": "({0} ^ {1})",
           "invert": "(~{0})"}


# inside Composite{...} Theano names these scalar ops scalar_sigmoid / scalar_softplus
# (pp of the tensor op still prints sigmoid(x))
for _sop in (ps.sigmoid, ps.softplus):
    _sop.pp_name = _sop.name
    _sop.fmt = "scalar_" + _sop.name + "({0})"
del _sop


def _pp_scalar(sop, args):
    name = getattr(sop, "name", None)
    if name in _PP_FUNC:
        return f"{_PP_FUNC[name]}({', '.join(args)})"
    if name in _PP_FMT:
        return _PP_FMT[name].format(*args)
    if getattr(sop, "pp_name", None):
        return f"{sop.pp_name}({', '.join(args)})"
    return sop.format(*args)


# --------------------------------------------------------------------------- pp
def pprint(*variables):
    """The expression of a variable as a string: ``pp(x + y) == '(x + y)'``."""
    memo = {}
    return "\n".join(_pp(v, memo) for v in variables)


pp = pprint


def _pp(v, memo):
    """The string of ``v``; operands first, with an explicit stack (graphs may be deep)."""
    stack = [v]
    while stack:
        cur = stack[-1]
        if cur in memo:
            stack.pop()
            continue
        if cur.owner is not None and not isinstance(cur, Constant):
            pending = [i for i in cur.owner.inputs if i not in memo]
            if pending:
                stack.extend(reversed(pending))
                continue
        stack.pop()
        memo[cur] = _pp_one(cur, memo)
    return memo[v]


def _pp_one(v, memo):
    if isinstance(v, Constant):
        return str(v)           # TensorConstant{2.0}, as Theano's pp
    if v.owner is None:
        return v.name if v.name is not None else f"<{v.type}>"
    node = v.owner
    op = node.op
    args = [memo[i] for i in node.inputs]
    if isinstance(op, Elemwise):
        if len(node.outputs) == 1:
            return _pp_scalar(op.scalar_op, args)
        return f"{_pp_scalar(op.scalar_op, args)}[{v.index}]"
    if hasattr(op, "pp"):
        # indices and shapes print plainly (x[1:, ::2], [x.shape[0], -1]): Theano keeps
        # such constants in the op, not as TensorConstant inputs
        plain = [format_constant(i.data) if isinstance(i, Constant) and i.name is None else a
                 for i, a in zip(node.inputs, args)]
        return op.pp(node, plain, v)
    if isinstance(op, DimShuffle) and len(op.new_order) == 2 and op.new_order == (1, 0):
        return f"{args[0]}.T"      # Theano prints a matrix transpose as x.T
    if isinstance(op, DimShuffle) \
            and all(o == "x" for o in op.new_order[:len(op.new_order) - len(op.shuffle)]) \
            and op.shuffle == tuple(range(len(op.shuffle))) and not op.drop:
        return args[0]     # broadcasting inserted by numpy rules: invisible, as in Theano's pp
    s = f"{op}({', '.join(args)})"
    if len(node.outputs) > 1:
        s += f"[{v.index}]"
    return s


# --------------------------------------------------------------------------- debugprint
def _id_letters(n):
    """0 -> A, 25 -> Z, 26 -> BA (Theano's ids)."""
    s = ""
    while True:
        s = chr(ord("A") + n % 26) + s
        n //= 26
        if n == 0:
            return s


def debugprint(obj, file=None, print_type=False, ids="CHAR", depth=-1, done=None,
               stop_on_name=False, print_destroy_map=False, print_view_map=False):
    """Print a graph as Theano's indented tree.

    ``obj`` is a variable, a list of variables, an Apply node or a compiled
    function (whose rewritten graph is printed with topological order numbers).
    With ``file="str"`` the text is returned instead of printed.
    """
    order = None
    if hasattr(obj, "maker") and hasattr(obj.maker, "fgraph"):
        fg = obj.maker.fgraph
        outputs = list(fg.outputs)
        order = fg.toposort()
    elif hasattr(obj, "outputs") and hasattr(obj, "toposort") and hasattr(obj, "clients"):
        outputs, order = list(obj.outputs), obj.toposort()
    elif isinstance(obj, (list, tuple)):
        outputs = list(obj)
    elif isinstance(obj, Variable):
        outputs = [obj]
    elif hasattr(obj, "outputs") and hasattr(obj, "op"):
        outputs = list(obj.outputs)
    else:
        raise TypeError(f"debugprint cannot print a {type(obj).__name__}; give it a variable, "
                        "a list of variables, an Apply node or a compiled function")
    if ids not in ("CHAR", "int", ""):
        raise ValueError(f"debugprint: ids must be 'CHAR', 'int' or '', got {ids!r}")
    lines = []
    state = {"id_style": ids, "ids": {}, "done": set(),
             "order": {n: k for k, n in enumerate(order)} if order is not None else None,
             "print_type": print_type, "depth": depth, "stop_on_name": stop_on_name}
    for v in outputs:
        _dp(v, "", "", lines, state, 0)
    text = "\n".join(lines) + "\n"
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return file


def _vid(v, state):
    """`` [id A]`` (ids="CHAR"), `` [id 0]`` (ids="int") or nothing (ids="")."""
    key = v.owner if v.owner is not None else v
    if isinstance(v, Constant) and v.data.ndim == 0:
        # Theano caches small scalar constants, so the 1 of 1 / (1 + e) is one variable
        # with one id; equal scalar constants share an id here too
        key = ("const", str(v), v.type)
    ids = state["ids"]
    if key not in ids:
        ids[key] = _id_letters(len(ids)) if state["id_style"] == "CHAR" else str(len(ids))
    return f" [id {ids[key]}]" if state["id_style"] else ""


def _dp(v, prefix, prefix_child, lines, state, level):
    """Append the tree of ``v`` to ``lines`` (depth first, an explicit stack: no recursion)."""
    stack = [(v, prefix, prefix_child, level)]
    while stack:
        v, prefix, prefix_child, level = stack.pop()
        children = _dp_line(v, prefix, lines, state, level)
        n = len(children)
        for k in range(n - 1, -1, -1):
            last = k == n - 1
            stack.append((children[k], prefix_child + " |",
                          prefix_child + ("  " if last else " |"), level + 1))


def _dp_line(v, prefix, lines, state, level):
    """Append the line of ``v``; returns the inputs to print under it."""
    type_str = f" <{v.type}>" if state["print_type"] else ""
    node = v.owner
    if node is None:
        name = str(v)
        lines.append(f"{prefix}{name}{_vid(v, state)}{type_str}")
        return ()
    opname = str(node.op)
    if len(node.outputs) > 1:
        opname += f".{v.index}"
    name = v.name or ""
    order = ""
    if state["order"] is not None:
        order = str(state["order"].get(node, ""))
    lines.append(f"{prefix}{opname}{_vid(v, state)}{type_str} '{name}'   {order}")
    if node in state["done"]:
        return ()
    state["done"].add(node)
    if state["depth"] != -1 and level + 1 >= state["depth"]:
        return ()
    if state["stop_on_name"] and v.name and level > 0:
        return ()
    return node.inputs
