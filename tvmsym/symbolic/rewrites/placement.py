"""The placement stage: put every node that can run on the GPU there (``device=cuda``).

After fusion and before inplace, for a graph compiled for a cuda target:

* every node whose op has a GPU schedule is lifted: it is rebuilt with the
  op's *device variant* (``on_gpu(op)``), a thin subclass of the same op whose
  only difference is where it runs and how it prints (``GpuElemwise{...}``,
  ``GpuCAReduce{...}``, ``GpuDot22``).  There is one op set: lowering rules,
  shape rules, gradients and rewrites see the ordinary op (``isinstance`` and
  the lowering table's MRO lookup both match), and ``type(op)(...)`` rebuilds
  a variant on the same device;
* each host value a GPU node reads goes through one ``GpuFromHost`` (shared by
  all its GPU readers), and each GPU value a host node or the function's
  outputs read comes back through one ``HostFromGpu``;
* shared variables live on the device: a shared input is a device value (no
  ``GpuFromHost``; a host node reading it gets a ``HostFromGpu``) and an update
  (an output after ``fgraph.n_user_outputs``) stays on the device (no
  ``HostFromGpu``; a host-computed update gets a ``GpuFromHost``).  The stage
  records ``fgraph.resident_inputs`` / ``resident_outputs`` (positions) for the
  runtime; when nothing is lifted, nothing is resident;
* scalar constants stay immediates of the kernels; other constants are
  uploaded once when the function is built;
* shape metadata (``Shape``, ``Shape_i``: they read no data, so no transfer)
  and integer arithmetic on it stay on the host: their values are known
  when kernels are built;
* the graph's order becomes Theano's stack order (``theano_toposort``), so
  order numbers match Theano's GPU listings.

The target is read from ``fgraph.target`` (any object with ``kind`` and
``places(op)``; ``tvmsym.targets.TargetInfo`` in practice), so this module
needs no TVM.  On any other target the stage does nothing.
"""
from __future__ import annotations

import numpy as np

from ..elemwise import Elemwise
from ..graph import Apply, Constant, Op
from ..scalar import Composite

GPU = "cuda"


# --------------------------------------------------------------------------- transfers
class _Transfer(Op):
    """A copy between host and GPU memory: same type and shape out as in, never folded."""

    host_only = "a copy the executor makes itself"

    __props__ = ()

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs):
        return [np.array(inputs[0], copy=True)]

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def do_constant_folding(self, node):
        return False


class GpuFromHost(_Transfer):
    """Copy a host array to the GPU (prints ``GpuFromHost<None>``, as Theano's gpuarray)."""

    device = GPU            # where its output lives

    def __str__(self):
        return "GpuFromHost<None>"

    def grad(self, inputs, output_grads):
        return [host_from_gpu(output_grads[0])]


class HostFromGpu(_Transfer):
    """Copy a GPU array back to the host (prints ``HostFromGpu(gpuarray)``)."""

    device = "cpu"

    def __str__(self):
        return "HostFromGpu(gpuarray)"

    def grad(self, inputs, output_grads):
        return [gpu_from_host(output_grads[0])]


gpu_from_host = GpuFromHost()
host_from_gpu = HostFromGpu()


def is_transfer(op):
    return isinstance(op, (GpuFromHost, HostFromGpu))


# --------------------------------------------------------------------------- device variants
class OnGpu:
    """Mixin of an op's device variant: same computation, runs on the GPU."""

    device = GPU

    def __str__(self):
        return self.__dict__.get("gpu_name") or "Gpu" + self.host_op().__str__()

    def host_op(self):
        """The ordinary (host) op this variant was made from."""
        base = type(self).__mro__[2]
        op = base.__new__(base)
        op.__dict__.update({k: v for k, v in self.__dict__.items() if k != "gpu_name"})
        return op

    def __reduce__(self):
        return _rebuild_on_gpu, (self.host_op(), self.__dict__.get("gpu_name"))


def _rebuild_on_gpu(op, name):
    new = on_gpu(op)
    if name:
        new.gpu_name = name
    return new


def _scalar_name(sop):
    # Theano's GpuElemwise printed the scalar op's class (``GpuElemwise{Add}``),
    # a fused one as ``Composite{...}``
    return str(sop) if isinstance(sop, Composite) else type(sop).__name__


def _gpu_elemwise_str(self):
    # depends on inplace_pattern, which the inplace stage sets later: a class-level name
    return (f"GpuElemwise{{{_scalar_name(self.scalar_op)}}}"
            f"{list(self.inplace_pattern)}<gpuarray>")


_REDUCER_NAMES = {"add": "add", "mul": "mul", "max": "maximum", "min": "minimum",
                  "and": "and_", "or": "or_"}


def gpu_name(op, node):
    """Theano's gpuarray name of a placed node, or None for ``"Gpu" + str(op)``."""
    if type(op).__name__ == "DimShuffle":     # Theano's gpuarray: InplaceGpuDimShuffle{1,0}
        return "InplaceGpuDimShuffle{" + ",".join(str(o) for o in op.new_order) + "}"
    reducer = getattr(op, "reducer", None)
    if reducer in _REDUCER_NAMES and hasattr(op, "reduced_axes"):
        name = "mean" if type(op).__name__ == "Mean" else _REDUCER_NAMES[reducer]
        axes = "" if op.axis is None else "{" + ", ".join(map(str, op.axis)) + "}"
        return f"GpuCAReduce{{{name}}}{axes}"
    if type(op).__name__ == "Dot" and node is not None:
        nds = [v.ndim for v in node.inputs]
        return {(2, 2): "GpuDot22", (2, 1): "GpuGemv", (1, 2): "GpuGemv"}.get(tuple(nds), "GpuDot")
    return None


_STR = {Elemwise: _gpu_elemwise_str}   # op classes named by a class-level function
_VARIANTS = {}


def on_gpu(op, node=None):
    """The device variant of ``op`` (an op of a subclass made once per op class).

    ``node`` (the Apply being placed) lets the printed name depend on the
    operands, as Theano's did (``GpuDot22`` for matrix . matrix).
    """
    if isinstance(op, OnGpu) or is_transfer(op):
        return op
    cls = type(op)
    sub = _VARIANTS.get(cls)
    if sub is None:
        attrs = {"__module__": __name__, "__qualname__": "Gpu" + cls.__name__,
                 "__doc__": f"{cls.__name__} placed on the GPU (see placement.py)."}
        for c in cls.__mro__:
            if c in _STR:
                attrs["__str__"] = attrs["__repr__"] = _STR[c]
                break
        else:
            attrs["__repr__"] = OnGpu.__str__
        sub = _VARIANTS[cls] = type("Gpu" + cls.__name__, (OnGpu, cls), attrs)
    new = cls.__new__(sub)
    new.__dict__.update(op.__dict__)
    name = gpu_name(op, node)
    if name:
        new.gpu_name = name
    return new


def is_on_gpu(op):
    """True for device variants (not transfers)."""
    return isinstance(op, OnGpu)


# --------------------------------------------------------------------------- the stage
def theano_toposort(outputs, blockers=()):
    """Theano's stack order (``io_toposort``): a node's last input is computed first.

    Used for placed graphs so order numbers match Theano's GPU listings
    (``GpuFromHost`` of the second input gets 0).
    """
    computed = set(map(id, blockers))
    todo = [o.owner for o in reversed(outputs) if o.owner is not None and id(o) not in computed]
    order = []
    while todo:
        cur = todo.pop()
        if id(cur.outputs[0]) in computed:
            continue
        pending = [i.owner for i in cur.inputs
                   if id(i) not in computed and i.owner is not None]
        if not pending:
            computed.update(map(id, cur.outputs))
            order.append(cur)
        else:
            todo.append(cur)
            todo.extend(pending)
    return order


def _reads_shape_only(op):
    """Ops whose value comes from their input's shape alone (Shape, Shape_i)."""
    return hasattr(op, "infer_value")


def _is_shape_arithmetic(node, shape_values):
    """Integer ops on shape values and constants only (``x.shape[0] * 2``)."""
    if not any(v in shape_values for v in node.inputs):
        return False
    if not all(v in shape_values or isinstance(v, Constant) for v in node.inputs):
        return False
    return all(o.type.dtype[0] in "iub" for o in node.outputs)


def is_shared_input(v):
    """True for a FunctionGraph input that stands for a shared variable (its storage)."""
    tag = getattr(v, "tag", None) or {}
    return tag.get("shared") is not None or hasattr(v, "container")


def place(fgraph, excluding=(), target=None):
    """Lift the nodes ``target`` can run onto the GPU, with transfers between devices.

    ``target`` defaults to ``fgraph.target``; nothing happens unless its kind is cuda.
    Idempotent: a graph that already has transfers is left alone.
    """
    target = target if target is not None else getattr(fgraph, "target", None)
    if target is None or getattr(target, "kind", None) != GPU:
        return fgraph
    order = fgraph.toposort()
    if any(is_transfer(n.op) or is_on_gpu(n.op) for n in order):
        return fgraph
    host = {}       # old var -> its host version in the new graph
    gpu = {}        # old var -> its GPU version in the new graph
    resident = [k for k, v in enumerate(fgraph.inputs) if is_shared_input(v)]
    for k, v in enumerate(fgraph.inputs):
        if k in resident:
            gpu[v] = v      # a shared variable's storage lives on the device: no GpuFromHost
        else:
            host[v] = v

    def on_host(v):
        if v not in host:
            if isinstance(v, Constant):
                host[v] = v
            else:
                new = host_from_gpu(gpu[v])
                new.name = v.name
                host[v] = new
        return host[v]

    def on_dev(v):
        if v not in gpu:
            if isinstance(v, Constant) or v in shape_values:
                return on_host(v)   # immediates / build-time values, uploaded once per build
            gpu[v] = gpu_from_host(on_host(v))
        return gpu[v]

    def on_dev_update(v):
        if isinstance(v, Constant):
            return v            # uploaded by the run loop when installed
        return on_dev(v)

    shape_values = set()    # shape arithmetic: stays on the host, known when kernels are built
    lifted = False
    for node in order:
        if _reads_shape_only(node.op):
            # Shape / Shape_i read metadata: no transfer, the value is known at build time
            op, ins, table = node.op, [host.get(v, gpu.get(v, v)) for v in node.inputs], host
            shape_values.update(node.outputs)
        elif _is_shape_arithmetic(node, shape_values):
            op, ins, table = node.op, [on_host(v) for v in node.inputs], host
            shape_values.update(node.outputs)
        elif target.places(node.op):
            op = on_gpu(node.op, node)
            ins = [on_dev(v) for v in node.inputs]
            table, lifted = gpu, True
        else:
            op = node.op
            ins = [on_host(v) for v in node.inputs]
            table = host
        outs = [o.type() for o in node.outputs]
        for o, n in zip(node.outputs, outs):
            n.name, n.tag = o.name, o.tag.copy()
            table[o] = n
        Apply(op, ins, outs).tag.update(node.tag)
    if not lifted:
        for v in fgraph.inputs:         # undo: nothing runs on the device, every input is host
            host[v] = v
        return fgraph
    # updates of shared variables (outputs after the user's) stay on the device: no HostFromGpu
    n_user = getattr(fgraph, "n_user_outputs", None)
    n_user = len(fgraph.outputs) if n_user is None else n_user
    new_outputs = [on_host(o) if k < n_user else on_dev_update(o)
                   for k, o in enumerate(fgraph.outputs)]
    fgraph.outputs = new_outputs
    fgraph.resident_inputs = frozenset(resident)
    fgraph.resident_outputs = frozenset(range(n_user, len(new_outputs)))
    fgraph.toposort_fn = theano_toposort
    fgraph.rebuild()
    return fgraph
