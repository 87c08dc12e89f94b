"""TVM kernel for sparse (CSR) x dense products: ``structured_dot`` and ``sparse.dot``.

The kernel is written whole (a TVMScript PrimFunc; TE cannot express a reduction whose
extent is read from ``indptr``): the sparse operand arrives as three buffers ``data``,
``indices``, ``indptr`` (``nnz`` is a symbolic extent, so one build serves every sparsity
pattern of the same shapes), the dense operand ``B`` (k x n) and the output ``C`` (m x n).
Rows of C run in parallel; for each stored entry of row i, row ``indices[p]`` of B is
scaled and added to row i of C, vectorized over the n columns (a scalar tail for n % lanes).
A csc operand is converted to csr by the runtime (runtime/sparse_support.py).
"""
from __future__ import annotations

from ... import _tvm
from ...symbolic.sparse.ops import Dot, StructuredDot
from ...symbolic.sparse.type import is_sparse_var
from . import lower_rule

KERNEL_DTYPES = ("float32", "float64")


def accepts(node):
    """A sparse matrix times a dense matrix, float32/float64: the TVM kernel; else the host."""
    a, b = node.inputs
    out = node.outputs[0]
    return (is_sparse_var(a) and not is_sparse_var(b) and b.ndim == 2
            and not is_sparse_var(out) and out.type.dtype in KERNEL_DTYPES)


def csr_dense_source(m, k, n, a_dtype, b_dtype, out_dtype, lanes):
    """TVMScript of C[m, n] = A[m, k] (csr) . B[k, n]."""
    nv = n - n % lanes
    zero = f"T.{out_dtype}(0)"
    a_val = f"T.Cast(\"{out_dtype}\", A_data[p])" if a_dtype != out_dtype else "A_data[p]"

    def b_at(col):
        v = f"B[A_indices[p], {col}]"
        return f"T.Cast(\"{out_dtype}\", {v})" if b_dtype != out_dtype else v

    lines = [
        "# from tvm.script import tirx as T",
        "",
        "@T.prim_func",
        ("def main(a_data: T.handle, a_indices: T.handle, a_indptr: T.handle, b: T.handle, "
         "c: T.handle):"),
        "    T.func_attr({\"tir.noalias\": True})",
        "    nnz = T.int32()",
        f"    A_data = T.match_buffer(a_data, (nnz,), \"{a_dtype}\")",
        "    A_indices = T.match_buffer(a_indices, (nnz,), \"int32\")",
        f"    A_indptr = T.match_buffer(a_indptr, ({m + 1},), \"int32\")",
        f"    B = T.match_buffer(b, ({k}, {n}), \"{b_dtype}\")",
        f"    C = T.match_buffer(c, ({m}, {n}), \"{out_dtype}\")",
        f"    for i in T.parallel({m}):",
        f"        for j in range({n}):",
        f"            C[i, j] = {zero}",
        "        for p in range(A_indptr[i], A_indptr[i + 1]):",
    ]
    if nv:
        lines += [
            f"            for j0 in range({nv // lanes}):",
            f"                for jv in T.vectorized({lanes}):",
            (f"                    C[i, j0 * {lanes} + jv] = C[i, j0 * {lanes} + jv] + "
             f"{a_val} * {b_at(f'j0 * {lanes} + jv')}"),
        ]
    if nv != n:
        lines += [
            f"            for jt in range({n - nv}):",
            f"                C[i, {nv} + jt] = C[i, {nv} + jt] + {a_val} * {b_at(f'{nv} + jt')}",
        ]
    return "\n".join(lines) + "\n"


@lower_rule(StructuredDot, Dot)
def lower_sparse_dense(node, shapes, machine=None):
    """The whole PrimFunc of a csr x dense product (``whole_kernel`` rule)."""
    import numpy as np
    (m, k), (_, n) = shapes[node.inputs[0]], shapes[node.inputs[1]]
    out = node.outputs[0].type.dtype
    if machine is not None and not machine.cpu:
        raise NotImplementedError(f"{node.op}: sparse products compile for the cpu (llvm) only; "
                                  "compile with device=cpu")
    if machine is not None and machine.cpu:
        lanes = machine.lanes(out)
    else:
        lanes = max(1, _tvm.vector_bytes() // np.dtype(out).itemsize)
    src = csr_dense_source(m, k, n, node.inputs[0].type.dtype, node.inputs[1].type.dtype, out,
                           lanes)
    return _tvm._from_source(src)


lower_sparse_dense.whole_kernel = True
lower_sparse_dense.accepts = accepts
