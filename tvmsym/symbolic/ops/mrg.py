"""MRG31k3p (L'Ecuyer and Touzin 2000), Theano's ``MRG_RandomStreams`` generator.

``MRGUniform{dtype}(rstate, size) -> (new_rstate, sample)``: ``rstate`` is an int32 matrix
with one row of six words (x1[3] of the first component, x2[3] of the second) per stream;
sample element ``i`` (C order) is the ``i // n_streams``-th draw of stream
``i % n_streams``, as in Theano's C and GPU code, so the draws are independent per stream and
a kernel runs one stream per thread.  The lowering rule (``lowering/rules/mrg.py``) makes it a
TVM kernel on the function's device; ``perform`` is the same computation in numpy (a host
step when the size is only known at run time).

Conversion to float as Theano's compiled code: ``v * 2**-31`` in float64;
``float32(v) * 4.6566126e-10f`` in float32, ``v`` being ``x1 - x2`` (+ M1 when not positive).

The stream-splitting helpers (``substream_states``, ``jump_2p134``) advance a state by 2**72
(next stream) and 2**134 (next generator) steps with the MRG's transition matrices raised to
those powers, computed here from the recurrences' coefficients.
"""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable
from ..graph import Apply, Op
from ..type import TensorType, normalize_dtype

M1 = 2147483647          # 2**31 - 1
M2 = 2147462579          # 2**31 - 21069
NORM64 = 2.0 ** -31
NORM32 = np.float32(4.6566126e-10)
MAX_SAMPLES = M1         # Theano's limit (2**31 - 1 samples per draw)

# one step of each component: x_n = A @ (x_{n-1}, x_{n-2}, x_{n-3})  (mod m)
#   x1_n = 2**22 x1_{n-2} + (2**7 + 1) x1_{n-3}                 (mod M1)
#   x2_n = 2**15 x2_{n-1} + (2**15 + 1) x2_{n-3}                (mod M2)
_A1 = ((0, 1 << 22, (1 << 7) + 1), (1, 0, 0), (0, 1, 0))
_A2 = ((1 << 15, 0, (1 << 15) + 1), (1, 0, 0), (0, 1, 0))


def _matmul_mod(a, b, m):
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) % m for j in range(3))
                 for i in range(3))


def _mat_pow2(a, e, m):
    """a ** (2 ** e) mod m (e squarings)."""
    for _ in range(e):
        a = _matmul_mod(a, a, m)
    return a


A1P72, A2P72 = _mat_pow2(_A1, 72, M1), _mat_pow2(_A2, 72, M2)
A1P134, A2P134 = _mat_pow2(_A1, 134, M1), _mat_pow2(_A2, 134, M2)


def _apply(a1, a2, state):
    s = [int(v) for v in state]
    x1 = [sum(a1[i][k] * s[k] for k in range(3)) % M1 for i in range(3)]
    x2 = [sum(a2[i][k] * s[3 + k] for k in range(3)) % M2 for i in range(3)]
    return x1 + x2


def jump_2p134(state):
    """The state 2**134 steps after ``state`` (Theano's ``inc_rstate``: the next generator)."""
    return np.asarray(_apply(A1P134, A2P134, state), dtype="int32")


_BLOCK = 256


def _mat_pow(a, k, m):
    """a ** k mod m (square and multiply)."""
    r = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    while k:
        if k & 1:
            r = _matmul_mod(r, a, m)
        a = _matmul_mod(a, a, m)
        k >>= 1
    return r


def _block_step(prev, b, m):
    """Every row of ``prev`` (int64 (k, 3), entries < m < 2**31) times matrix ``b`` mod m."""
    out = np.empty_like(prev)
    for i in range(3):
        acc = np.zeros(prev.shape[0], dtype="int64")
        for j in range(3):
            acc += (prev[:, j] * int(b[i][j])) % m      # each product < 2**62
        out[:, i] = acc % m
    return out


def substream_states(state, n_streams):
    """(n_streams, 6) int32: ``state`` then each row 2**72 steps after the previous one.

    The first block of rows is stepped one by one; each later block is the previous one
    advanced by ``_BLOCK`` streams at once (the jump matrix to that power)."""
    n_streams = int(n_streams)
    if n_streams < 1:
        raise ValueError(f"MRG: the number of streams must be positive, got {n_streams}")
    out = np.empty((n_streams, 6), dtype="int64")
    s = [int(v) for v in state]
    out[0] = s
    first = min(n_streams, _BLOCK)
    for i in range(1, first):
        s = _apply(A1P72, A2P72, s)
        out[i] = s
    if n_streams > first:
        b1, b2 = _mat_pow(A1P72, _BLOCK, M1), _mat_pow(A2P72, _BLOCK, M2)
        for start in range(_BLOCK, n_streams, _BLOCK):
            k = min(_BLOCK, n_streams - start)
            prev = out[start - _BLOCK:start - _BLOCK + k]
            out[start:start + k, :3] = _block_step(prev[:, :3], b1, M1)
            out[start:start + k, 3:] = _block_step(prev[:, 3:], b2, M2)
    return out.astype("int32")


def check_seed(seed):
    """Theano's seed rules: one int in [1, M2) (copied to the 6 words) or 6 valid words."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seed = int(seed)
        if seed == 0:
            raise ValueError("MRG_RandomStreams: seed should not be 0")
        if seed < 0 or seed >= M2:
            raise ValueError(f"MRG_RandomStreams: seed should be in [1, {M2}), got {seed}")
        return np.asarray([seed] * 6, dtype="int32")
    try:
        words = [int(v) for v in seed]
    except TypeError:
        raise TypeError(f"MRG_RandomStreams: seed should be 1 integer or 6 integers, got "
                        f"{seed!r}") from None
    if len(words) != 6:
        raise TypeError(f"MRG_RandomStreams: seed should be 1 integer or 6 integers, got "
                        f"{len(words)}")
    if words[:3] == [0, 0, 0]:
        raise ValueError("MRG_RandomStreams: the first 3 values of seed should not be all 0")
    if words[3:] == [0, 0, 0]:
        raise ValueError("MRG_RandomStreams: the last 3 values of seed should not be all 0")
    if any(not 0 <= w < M1 for w in words[:3]):
        raise ValueError(f"MRG_RandomStreams: the first 3 values of seed should be in [0, {M1})")
    if any(not 0 <= w < M2 for w in words[3:]):
        raise ValueError(f"MRG_RandomStreams: the last 3 values of seed should be in [0, {M2})")
    return np.asarray(words, dtype="int32")


def guess_n_streams(size):
    """Theano's stream count: prod(size) (// 6 above 6), at most 60 * 256; 60 * 256 when the
    size is not a tuple of Python ints (numpy ints and variables included, as in Theano)."""
    if isinstance(size, (tuple, list)) and all(isinstance(s, int) for s in size):
        r = 1
        for s in size:
            r *= int(s)
        if r > 6:
            r //= 6
        return max(1, min(r, 60 * 256))
    return 60 * 256


# --------------------------------------------------------------------------- numpy reference step
def next_states(st):
    """Advance every row of ``st`` (int64 (n, 6)) one step in place; returns x1 - x2 draws."""
    x11, x12, x13, x21, x22, x23 = (st[:, k].copy() for k in range(6))
    y1 = ((x12 & 511) << 22) + (x12 >> 9) + ((x13 & 16777215) << 7) + (x13 >> 24)
    y1 = np.where(y1 >= M1, y1 - M1, y1)
    y1 = y1 + x13
    y1 = np.where(y1 >= M1, y1 - M1, y1)
    a = ((x21 & 65535) << 15) + 21069 * (x21 >> 16)
    a = np.where(a >= M2, a - M2, a)
    y2 = ((x23 & 65535) << 15) + 21069 * (x23 >> 16)
    y2 = np.where(y2 >= M2, y2 - M2, y2)
    y2 = y2 + x23
    y2 = np.where(y2 >= M2, y2 - M2, y2)
    y2 = y2 + a
    y2 = np.where(y2 >= M2, y2 - M2, y2)
    st[:, 0], st[:, 1], st[:, 2] = y1, x11, x12
    st[:, 3], st[:, 4], st[:, 5] = y2, x21, x22
    return np.where(y1 <= y2, y1 - y2 + M1, y1 - y2)


def to_unit(v, dtype):
    """Theano's conversion of x1 - x2 (in [1, M1]) to (0, 1]."""
    if dtype == "float32":
        return v.astype("float32") * NORM32
    if dtype == "float16":      # Theano's (Python) float16 path: in float64, then rounded
        return (((v & 0x7fff) + 1).astype("float64") * float(np.float16(3.0458e-05))).astype("float16")
    return v.astype("float64") * NORM64


def mrg_draw(rstate, n):
    """(new rstate, the n draws x1 - x2 in element order) of ``rstate`` (numpy)."""
    st = np.asarray(rstate, dtype="int64").copy()
    ns = st.shape[0]
    out = np.empty(n, dtype="int64")
    for k in range(0, n, ns):
        m = min(ns, n - k)
        sub = st[:m]
        out[k:k + m] = next_states(sub)
        st[:m] = sub
    return st.astype("int32"), out


class MRGUniform(Op):
    """``(rstate, size) -> (new_rstate, uniform draws in (0, 1])`` with MRG31k3p."""

    __props__ = ("dtype", "ndim")
    no_grad = "a random draw (Theano: no gradient through the generator)"

    def __init__(self, dtype, ndim):
        self.dtype = normalize_dtype(dtype)
        if self.dtype not in ("float16", "float32", "float64"):
            raise TypeError(f"MRG uniform: dtype must be a float type, got {self.dtype}")
        self.ndim = int(ndim)

    def __str__(self):
        return f"mrg_uniform{{{TensorType(self.dtype, (False,) * self.ndim)},no_inplace}}"

    __repr__ = __str__

    def make_node(self, rstate, size):
        from .shape import _known_ints
        rstate = as_tensor_variable(rstate)
        if rstate.type.dtype != "int32" or rstate.type.ndim != 2:
            raise TypeError(f"{self}: rstate must be an int32 matrix (n_streams, 6), got "
                            f"{rstate.type}")
        size = as_tensor_variable(size)
        if size.ndim != 1 or size.dtype != "int64":
            raise TypeError(f"{self}: size must be an int64 vector, got {size.type}")
        known = _known_ints(size)
        if known is not None and len(known) != self.ndim:
            raise ValueError(f"{self}: size has {len(known)} entries, ndim is {self.ndim}")
        bc = tuple(k == 1 for k in known) if known is not None else (False,) * self.ndim
        return Apply(self, [rstate, size], [rstate.type(), TensorType(self.dtype, bc)()])

    def infer_shape_values(self, node, shapes, values):
        size = values[1]
        if size is None:
            return [tuple(shapes[0]), None]
        return [tuple(shapes[0]), tuple(int(s) for s in size)]

    def shape_value_inputs(self, node):
        return [1]

    def runtime_values_ok(self, node, positions):
        return True

    def do_constant_folding(self, node):
        return False

    def runtime_check_for(self, node):
        return _check_call

    def perform(self, node, inputs):
        rstate, size = inputs
        size = tuple(int(s) for s in size)
        n = _check_sizes(np.shape(rstate), size)
        new, draws = mrg_draw(rstate, n)
        return [new, to_unit(draws, self.dtype).reshape(size)]


def _check_sizes(rshape, size):
    if len(rshape) != 2 or rshape[1] != 6 or rshape[0] < 1:
        raise ValueError(f"MRG uniform: rstate must have shape (n_streams >= 1, 6), got {rshape}")
    if any(s < 0 for s in size):
        raise ValueError(f"MRG uniform: negative size {size}")
    n = int(np.prod(size, dtype="int64"))
    if n > MAX_SAMPLES:
        raise ValueError("rng_mrg does not support more than (2**31 - 1) samples")
    return n


def _check_call(node, arrays, shapes):
    size = arrays[1]
    if size is None:
        return
    _check_sizes(tuple(shapes[0]), tuple(int(s) for s in np.asarray(size).reshape(-1)))


def mrg_uniform(rstate, size, dtype, ndim=None):
    """``(new_rstate, sample)`` of ``MRGUniform`` for ``size`` (tuple or int vector)."""
    from .shape import _known_ints, as_shape_vector
    size_v = as_shape_vector(size, "MRG uniform: size")
    if ndim is None:
        known = _known_ints(size_v)
        if known is not None:
            ndim = len(known)
        else:
            from .random import _static_len
            ndim = _static_len(size_v)
    return MRGUniform(dtype, ndim)(rstate, size_v)


# --------------------------------------------------------------------------- multinomial / choice
class MultinomialFromUniform(Op):
    """``(pvals (n, k), unis (n * n_samples,), n_samples) -> counts (n, k)`` (Theano's
    sandbox.multinomial): draw ``c`` of row ``r`` uses ``unis[c * n + r]`` and picks the first
    outcome whose running sum of probabilities (float64) exceeds it (none when it exceeds all)."""

    __props__ = ("odtype",)
    no_grad = "integer counts of random draws"

    def __init__(self, odtype="int64"):
        self.odtype = normalize_dtype(odtype) if odtype != "auto" else "auto"

    def __str__(self):
        return f"MultinomialFromUniform{{{self.odtype}}}"

    def make_node(self, pvals, unis, n=1):
        pvals, unis, n = as_tensor_variable(pvals), as_tensor_variable(unis), as_tensor_variable(n)
        if pvals.ndim != 2 or unis.ndim != 1 or n.ndim != 0:
            raise TypeError(f"{self}: expected pvals matrix, unis vector, n scalar; got "
                            f"{pvals.type}, {unis.type}, {n.type}")
        odtype = pvals.dtype if self.odtype == "auto" else self.odtype
        return Apply(self, [pvals, unis, n], [TensorType(odtype, pvals.broadcastable)()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def do_constant_folding(self, node):
        return False

    def perform(self, node, inputs):
        pvals, unis, n = inputs
        n = int(n)
        rows, k = pvals.shape
        if unis.shape[0] != rows * n:
            raise ValueError(f"{self}: unis has {unis.shape[0]} values, pvals.shape[0] * n = "
                             f"{rows * n}")
        odt = node.outputs[0].dtype if node is not None else \
            (pvals.dtype if self.odtype == "auto" else self.odtype)
        out = np.zeros(pvals.shape, dtype=odt)
        if rows == 0 or k == 0:
            return [out]
        csum = np.cumsum(pvals.astype("float64"), axis=1)
        u = np.asarray(unis, dtype="float64").reshape(n, rows)
        for c in range(n):
            pick = (csum > u[c][:, None])
            hit = pick.any(axis=1)
            idx = pick.argmax(axis=1)
            out[np.nonzero(hit)[0], idx[hit]] += 1
        return [out]


class ChoiceFromUniform(Op):
    """``(pvals (n, k), unis (n * n_samples,), n_samples) -> indices (n, n_samples)``, without
    replacement (Theano's sandbox.multinomial.ChoiceFromUniform): sample ``c`` of row ``r`` uses
    ``unis[c * n + r]``; the chosen outcome's probability is set to 0 and the row renormalized."""

    __props__ = ("odtype",)
    no_grad = "integer indices of random draws"

    def __init__(self, odtype="int64"):
        self.odtype = "int64" if odtype == "auto" else normalize_dtype(odtype)

    def __str__(self):
        return f"ChoiceFromUniform{{{self.odtype}}}"

    def make_node(self, pvals, unis, n):
        pvals, unis, n = as_tensor_variable(pvals), as_tensor_variable(unis), as_tensor_variable(n)
        if pvals.ndim != 2 or unis.ndim != 1 or n.ndim != 0:
            raise TypeError(f"{self}: expected pvals matrix, unis vector, n scalar; got "
                            f"{pvals.type}, {unis.type}, {n.type}")
        return Apply(self, [pvals, unis, n],
                     [TensorType(self.odtype, (pvals.broadcastable[0], False))()])

    def infer_shape_values(self, node, shapes, values):
        n = values[2]
        return [None if n is None else (shapes[0][0], int(n))]

    def shape_value_inputs(self, node):
        return [2]

    def runtime_values_ok(self, node, positions):
        return True

    def do_constant_folding(self, node):
        return False

    def runtime_check_for(self, node):
        return _check_choice

    def perform(self, node, inputs):
        pvals, unis, n = inputs
        n = int(n)
        pvals = np.array(pvals, copy=True)
        rows, k = pvals.shape
        if n > k:
            raise ValueError(f"{self}: cannot sample {n} values without replacement from "
                             f"{k} outcomes")
        if unis.shape[0] != rows * n:
            raise ValueError(f"{self}: unis has {unis.shape[0]} values, pvals.shape[0] * n = "
                             f"{rows * n}")
        out = np.full((rows, n), -1, dtype=self.odtype)
        dt = pvals.dtype.type
        for c in range(n):
            for r in range(rows):
                u = float(unis[c * rows + r])
                cum = 0.0                       # a double, as Theano's C code
                for m in range(k):
                    cum += float(pvals[r, m])
                    if cum > u:
                        out[r, c] = m
                        if c != n - 1:          # renormalize what is left of the row
                            s = dt(cum - float(pvals[r, m]))
                            pvals[r, m] = 0
                            for j in range(m, k):
                                s = dt(s + pvals[r, j])
                            with np.errstate(invalid="ignore", divide="ignore"):
                                pvals[r] = pvals[r] / s     # 0/0 as Theano's C code
                        break
        return [out]


def _check_choice(node, arrays, shapes):
    """Before the kernel: n <= k and len(unis) == rows * n (Theano's errors)."""
    n = arrays[2]
    if n is None:
        return
    n = int(np.asarray(n))
    rows, k = shapes[0]
    if n > k:
        raise ValueError(f"{node.op}: cannot sample {n} values without replacement from "
                         f"{k} outcomes")
    if shapes[1][0] != rows * n:
        raise ValueError(f"{node.op}: unis has {shapes[1][0]} values, pvals.shape[0] * n = "
                         f"{rows * n}")
