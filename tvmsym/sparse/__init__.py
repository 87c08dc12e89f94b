"""``import tvmsym.sparse as sparse``: Theano's ``theano.sparse``, backed by scipy.sparse.

Variables: ``csr_matrix``/``csc_matrix`` (and ``SparseType``), constants through
``as_sparse_variable``, shared variables through ``shared`` (or ``tvmsym.shared`` of a
scipy.sparse value).  Ops: ``dense_from_sparse``, ``csr_from_dense``, ``csc_from_dense``,
``transpose``, ``structured_dot``, ``dot``, ``true_dot``, ``sampling_dot``, ``sp_sum``,
``add``, ``sub``, ``mul``, ``sp_ones_like``, ``sp_zeros_like``.  Sparse x dense products
run as TVM kernels; the other ops run on the host with scipy.  ``verify_grad_sparse``
checks gradients of functions with sparse inputs by finite differences.
"""
from ..runtime.sparse_support import (
    SparseSharedVariable,  # noqa: F401
    sparse_shared as shared,  # noqa: F401
)
from ..symbolic.sparse import *  # noqa: F403
from ..symbolic.sparse import (  # noqa: F401
    DataAt,
    DenseFromSparse,
    SparseFromData,
    SparseFromDense,
    SparseType,
    as_sparse_or_tensor_variable,
    csr_from_dense,
    is_sparse_var,
)


def _is_sparse(x):
    return type(x).__module__.startswith("scipy.sparse")


def verify_grad_sparse(op, pt, structured=False, *args, **kwargs):
    """``tvmsym.gradient.verify_grad`` for ``op`` (a callable of symbolic inputs) at the point
    ``pt``, whose entries may be scipy.sparse matrices (Theano's verify_grad_sparse).

    A sparse entry is perturbed as a dense matrix (``structured=False``: every entry, the
    regular gradient) or through its stored values only (``structured=True``: the
    structured gradient).  A sparse output is compared through ``dense_from_sparse``.
    """
    from ..gradient import verify_grad
    convs, dpt = [], []
    for p in pt:
        if _is_sparse(p):
            fmt = p.format if p.format in ("csr", "csc") else "csr"
            p = p.asformat(fmt)
            if structured:
                p = p.copy()
                p.sum_duplicates()
                dpt.append(p.data.copy())
                convs.append(SparseFromData(fmt, p.indices, p.indptr, p.shape))
            else:
                dpt.append(p.toarray())
                convs.append(SparseFromDense(fmt))
        else:
            dpt.append(p)
            convs.append(None)

    def conv_op(*inputs):
        ipt = [c(x) if c is not None else x for c, x in zip(convs, inputs)]
        out = op(*ipt)
        if isinstance(out, (list, tuple)):
            raise NotImplementedError("verify_grad_sparse: op must have one output")
        if is_sparse_var(out):
            out = DenseFromSparse(structured=structured)(out)
        return out

    return verify_grad(conv_op, dpt, *args, **kwargs)
