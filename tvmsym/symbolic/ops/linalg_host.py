"""Matrix factorizations of ``theano.tensor.nlinalg``, run on the host through numpy's LAPACK.

TVM has no kernels for LU, QR, SVD or eigen-decompositions, so these ops have no
lowering rule: the executor calls their ``perform`` (numpy.linalg) between the kernels,
and on ``device=cuda`` the placement stage leaves them on the host (``host_only``).
Everything around them (elementwise work, products, their gradients' graphs) is lowered
and fused as usual.  Every op takes stacks of matrices (``(..., n, n)``) as numpy does.

A matrix LAPACK cannot factor (singular, not positive definite, no convergence) raises
``numpy.linalg.LinAlgError`` naming the op and the shape, where numpy raises.
"""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable
from ..graph import Apply, Op
from ..type import TensorType

__all__ = [
    "SVD",
    "Det",
    "Eig",
    "Eigh",
    "Eigvalsh",
    "MatrixInverse",
    "MatrixPinv",
    "QRFull",
    "det",
    "eig",
    "eigh",
    "linalg_dtype",
    "matrix_inverse",
    "pinv",
    "qr",
    "svd",
]


def linalg_dtype(dtype):
    """The dtype LAPACK works in for ``dtype``: floats and complex keep theirs (float16 goes to
    float32), integers and bool give float64, as numpy.linalg."""
    k = np.dtype(dtype).kind
    if dtype == "float16":
        return "float32"
    if k in "fc":
        return dtype
    return "float64"


class HostLinalgOp(Op):
    """Base of the LAPACK-backed ops: no TVM lowering, never placed on a GPU."""

    kind = "opaque"
    host_only = "a LAPACK factorization (numpy/scipy); TVM has no kernel for it"
    min_ndim = 2
    square = True

    def _matrix(self, x):
        x = as_tensor_variable(x)
        if x.ndim < self.min_ndim:
            raise TypeError(f"{self}: expects a matrix or a stack of matrices (ndim >= "
                            f"{self.min_ndim}), got {x.type}")
        return x

    def _check_square(self, shape):
        if self.square and len(shape) >= 2 and shape[-1] != shape[-2]:
            raise ValueError(f"{self}: the last two dimensions must be square, got shape "
                             f"{tuple(shape)}")

    def _run(self, fn, *args, **kwargs):
        """``fn(*args)`` with LAPACK's failures re-raised naming this op and the shapes."""
        shapes = ", ".join(str(np.shape(a)) for a in args)
        try:
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)
        except np.linalg.LinAlgError as e:
            raise np.linalg.LinAlgError(f"{self}: {e} (input shape(s) {shapes})") from None


def _float_input(x, dtype):
    return x if x.dtype == dtype else x.astype(dtype)


class MatrixInverse(HostLinalgOp):
    """numpy.linalg.inv; a singular matrix raises LinAlgError."""

    __props__ = ()

    def make_node(self, x):
        x = self._matrix(x)
        return Apply(self, [x], [TensorType(linalg_dtype(x.dtype), x.broadcastable)()])

    def infer_shape(self, node, shapes):
        self._check_square(shapes[0])
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        dt = node.outputs[0].dtype
        return [np.asarray(self._run(np.linalg.inv, _float_input(inputs[0], dt)), dtype=dt)]


class MatrixPinv(HostLinalgOp):
    """numpy.linalg.pinv (Moore-Penrose pseudo-inverse, any m x n; ``hermitian`` as numpy)."""

    __props__ = ("hermitian",)
    square = False

    def __init__(self, hermitian=False):
        self.hermitian = bool(hermitian)

    def make_node(self, x):
        x = self._matrix(x)
        bc = x.broadcastable[:-2] + (x.broadcastable[-1], x.broadcastable[-2])
        return Apply(self, [x], [TensorType(linalg_dtype(x.dtype), bc)()])

    def infer_shape(self, node, shapes):
        s = tuple(shapes[0])
        return [s[:-2] + (s[-1], s[-2])]

    def perform(self, node, inputs):
        dt = node.outputs[0].dtype
        x = _float_input(inputs[0], dt)
        return [np.asarray(self._run(np.linalg.pinv, x, hermitian=self.hermitian), dtype=dt)]


class Det(HostLinalgOp):
    """numpy.linalg.det (one value per matrix of the stack; 1 for a 0 x 0 matrix)."""

    __props__ = ()

    def make_node(self, x):
        x = self._matrix(x)
        return Apply(self, [x], [TensorType(linalg_dtype(x.dtype), x.broadcastable[:-2])()])

    def infer_shape(self, node, shapes):
        self._check_square(shapes[0])
        return [tuple(shapes[0])[:-2]]

    def perform(self, node, inputs):
        dt = node.outputs[0].dtype
        return [np.asarray(self._run(np.linalg.det, _float_input(inputs[0], dt)), dtype=dt)]


class Eig(HostLinalgOp):
    """numpy.linalg.eig: ``(w, v)``.  Theano's Eig has real outputs: a matrix with complex
    eigenvalues raises (use ``eigh`` for symmetric matrices)."""

    __props__ = ()
    no_grad = "Theano defines no gradient for Eig"

    def make_node(self, x):
        x = self._matrix(x)
        dt = linalg_dtype(x.dtype)
        b = x.broadcastable
        return Apply(self, [x], [TensorType(dt, b[:-1])(), TensorType(dt, b)()])

    def infer_shape(self, node, shapes):
        s = tuple(shapes[0])
        self._check_square(s)
        return [s[:-1], s]

    def perform(self, node, inputs):
        dt = node.outputs[0].dtype
        w, v = self._run(np.linalg.eig, _float_input(inputs[0], dt))
        if np.dtype(dt).kind == "f" and (np.iscomplexobj(w) or np.iscomplexobj(v)):
            if np.any(w.imag != 0):
                raise np.linalg.LinAlgError(f"{self}: the matrix has complex eigenvalues, which a "
                                            f"{dt} output cannot hold (use eigh for a symmetric "
                                            "matrix)")
            w, v = w.real, v.real
        return [np.asarray(w, dtype=dt), np.asarray(v, dtype=dt)]


class Eigh(HostLinalgOp):
    """Eigen-decomposition of a symmetric (Hermitian) matrix: ``(w, v)``, eigenvalues
    ascending.  ``eigh(a)`` reads the ``UPLO`` triangle only (numpy.linalg.eigh, stacks);
    with a second input ``b`` it solves the generalized problem ``a v = w b v``
    (scipy.linalg.eigh, one pair of matrices)."""

    __props__ = ("UPLO",)

    def __init__(self, UPLO="L"):
        if UPLO not in ("L", "U"):
            raise ValueError(f"Eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
        self.UPLO = UPLO

    def make_node(self, a, b=None):
        a = self._matrix(a)
        ins = [a]
        dt = linalg_dtype(a.dtype)
        if b is not None:
            b = as_tensor_variable(b)
            if a.ndim != 2 or b.ndim != 2:
                raise TypeError(f"{self}: the generalized problem takes two matrices, got "
                                f"{a.type} and {b.type}")
            ins.append(b)
            dt = linalg_dtype(np.result_type(a.dtype, b.dtype).name)
        wdt = "float32" if dt in ("float32", "complex64") else "float64"
        return Apply(self, ins, [TensorType(wdt, a.broadcastable[:-1])(),
                                 TensorType(dt, a.broadcastable)()])

    def infer_shape(self, node, shapes):
        s = tuple(shapes[0])
        self._check_square(s)
        if len(shapes) == 2 and tuple(shapes[1]) != s:
            raise ValueError(f"{self}: a and b must have the same shape, got {s} and "
                             f"{tuple(shapes[1])}")
        return [s[:-1], s]

    def perform(self, node, inputs):
        dt = linalg_dtype(np.result_type(*[i.dtype for i in node.inputs]).name)
        a = _float_input(inputs[0], dt)
        if len(inputs) == 1:
            w, v = self._run(np.linalg.eigh, a, UPLO=self.UPLO)
        else:
            import scipy.linalg
            b = _float_input(inputs[1], dt)
            if a.shape[0] == 0:
                w, v = np.zeros(0, dt), np.zeros((0, 0), dt)
            else:
                w, v = self._run(scipy.linalg.eigh, a, b, lower=self.UPLO == "L")
        return [np.asarray(w, dtype=node.outputs[0].dtype), np.asarray(v, dtype=dt)]


class Eigvalsh(HostLinalgOp):
    """Eigenvalues of a symmetric ``a`` (ascending), or of ``a v = w b v`` with a second
    input (scipy.linalg.eigvalsh; Theano's slinalg.Eigvalsh).  Reads the lower triangle
    (``lower=False``: the upper)."""

    __props__ = ("lower",)

    def __init__(self, lower=True):
        self.lower = bool(lower)

    def make_node(self, a, b=None):
        node = Eigh("L" if self.lower else "U").make_node(a, b)
        return Apply(self, node.inputs, [node.outputs[0].type()])

    def infer_shape(self, node, shapes):
        return [Eigh().infer_shape(node, shapes)[0]]

    def perform(self, node, inputs):
        return [Eigh("L" if self.lower else "U").perform(node, inputs)[0]]


class SVD(HostLinalgOp):
    """numpy.linalg.svd: ``(u, s, v)`` (v as numpy's ``vh``) or, with ``compute_uv=False``,
    the singular values only."""

    __props__ = ("full_matrices", "compute_uv")
    square = False
    no_grad = "Theano defines no gradient for SVD"

    def __init__(self, full_matrices=True, compute_uv=True):
        self.full_matrices = bool(full_matrices)
        self.compute_uv = bool(compute_uv)

    def make_node(self, x):
        x = self._matrix(x)
        dt = linalg_dtype(x.dtype)
        sdt = "float32" if dt in ("float32", "complex64") else "float64"
        b = x.broadcastable[:-2]
        s = TensorType(sdt, b + (False,))()
        if not self.compute_uv:
            return Apply(self, [x], [s])
        return Apply(self, [x], [TensorType(dt, b + (False, False))(), s,
                                 TensorType(dt, b + (False, False))()])

    def infer_shape(self, node, shapes):
        sh = tuple(shapes[0])
        batch, (m, n) = sh[:-2], sh[-2:]
        k = min(m, n)
        if not self.compute_uv:
            return [batch + (k,)]
        if self.full_matrices:
            return [batch + (m, m), batch + (k,), batch + (n, n)]
        return [batch + (m, k), batch + (k,), batch + (k, n)]

    def perform(self, node, inputs):
        dt = linalg_dtype(node.inputs[0].dtype)
        x = _float_input(inputs[0], dt)
        res = self._run(np.linalg.svd, x, full_matrices=self.full_matrices,
                        compute_uv=self.compute_uv)
        if not self.compute_uv:
            return [np.asarray(res, dtype=node.outputs[0].dtype)]
        return [np.asarray(r, dtype=o.dtype) for r, o in zip(res, node.outputs)]


class QRFull(HostLinalgOp):
    """numpy.linalg.qr with ``mode`` 'reduced' (q, r), 'complete' (q, r), 'r' (r) or
    'raw' (h, tau)."""

    __props__ = ("mode",)
    square = False
    no_grad = "Theano defines no gradient for QR"
    MODES = ("reduced", "complete", "r", "raw")

    def __init__(self, mode="reduced"):
        if mode not in self.MODES:
            raise ValueError(f"qr: mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def make_node(self, x):
        x = self._matrix(x)
        if self.mode == "raw" and x.ndim != 2:
            raise TypeError(f"{self}: mode='raw' takes one matrix, got {x.type}")
        dt = linalg_dtype(x.dtype)
        b = x.broadcastable[:-2]
        mat = TensorType(dt, b + (False, False))
        if self.mode == "r":
            return Apply(self, [x], [mat()])
        if self.mode == "raw":
            return Apply(self, [x], [mat(), TensorType(dt, (False,))()])
        return Apply(self, [x], [mat(), mat()])

    def infer_shape(self, node, shapes):
        sh = tuple(shapes[0])
        batch, (m, n) = sh[:-2], sh[-2:]
        k = min(m, n)
        if self.mode == "raw":
            return [(n, m), (k,)]
        r = batch + ((m if self.mode == "complete" else k), n)
        if self.mode == "r":
            return [r]
        q = batch + (m, (m if self.mode == "complete" else k))
        return [q, r]

    def perform(self, node, inputs):
        dt = linalg_dtype(node.inputs[0].dtype)
        res = self._run(np.linalg.qr, _float_input(inputs[0], dt), mode=self.mode)
        if self.mode == "r":
            return [np.asarray(res, dtype=dt)]
        return [np.asarray(r, dtype=dt) for r in res]


class Lstsq(HostLinalgOp):
    """numpy.linalg.lstsq(a, b, rcond): ``[x, residuals, rank, s]`` (residuals is empty
    unless ``a`` has full column rank and more rows than columns)."""

    __props__ = ()
    square = False
    no_grad = "Theano defines no gradient for Lstsq"

    def make_node(self, a, b, rcond=-1):
        a, b = self._matrix(a), as_tensor_variable(b)
        if a.ndim != 2 or b.ndim not in (1, 2):
            raise TypeError(f"lstsq: a must be a matrix and b a vector or a matrix, got {a.type} "
                            f"and {b.type}")
        rcond = as_tensor_variable(rcond)
        dt = linalg_dtype(np.result_type(a.dtype, b.dtype).name)
        return Apply(self, [a, b, rcond], [TensorType(dt, (False,) * b.ndim)(),
                                           TensorType(dt, (False,))(), TensorType("int64", ())(),
                                           TensorType(dt, (False,))()])

    def infer_shape(self, node, shapes):
        (m, n), sb = shapes[0], tuple(shapes[1])
        if sb[0] != m:
            raise ValueError(f"lstsq: a of shape {(m, n)} and b of shape {sb} do not match")
        return [(n,) + sb[1:], None, (), (min(m, n),)]

    def perform(self, node, inputs):
        dt = node.outputs[0].dtype
        a, b, rcond = _float_input(inputs[0], dt), _float_input(inputs[1], dt), inputs[2]
        x, res, rank, s = self._run(np.linalg.lstsq, a, b, rcond=float(rcond))
        return [np.asarray(x, dt), np.asarray(res, dt), np.asarray(rank, "int64"),
                np.asarray(s, dt)]


def lstsq(*args):
    """numpy.linalg.lstsq: ``lstsq(a, b, rcond)``; Theano's ``lstsq()(a, b, rcond)`` (an op
    made first, then applied) works too."""
    return Lstsq() if not args else Lstsq()(*args)


matrix_inverse = MatrixInverse()


def pinv(x, hermitian=False):
    """Moore-Penrose pseudo-inverse (numpy.linalg.pinv)."""
    return MatrixPinv(hermitian)(x)


def det(x):
    """Determinant (numpy.linalg.det)."""
    return Det()(x)


def eig(x):
    """``(w, v)`` of a general square matrix with real eigenvalues (numpy.linalg.eig)."""
    return Eig()(x)


def eigh(a, UPLO="L"):
    """``(w, v)`` of a symmetric matrix from its ``UPLO`` triangle (numpy.linalg.eigh)."""
    return Eigh(UPLO)(a)


def svd(a, full_matrices=1, compute_uv=1):
    """numpy.linalg.svd: ``[u, s, v]``, or ``s`` when ``compute_uv`` is false."""
    return SVD(full_matrices, compute_uv)(a)


def qr(a, mode="full"):
    """numpy.linalg.qr: ``[q, r]`` ('reduced'; Theano's default 'full' is its alias, and
    'complete'), ``r`` ('r'), ``[h, tau]`` ('raw'), ``h`` (Theano's 'economic')."""
    if mode in ("full", "f"):
        mode = "reduced"
    if mode in ("economic", "e"):
        return QRFull("raw")(a)[0]
    return QRFull(mode)(a)
