"""A pure-Python MRG31k3p as Theano 1.0 runs it, written from the algorithm for the tests.

Integers wrap as C int32 (Theano's code relies on it); stream states are found by stepping
the generator's transition matrices, raised to 2**72 / 2**134 by repeated squaring here.
"""
import numpy as np

M1, M2 = 2 ** 31 - 1, 2 ** 31 - 21069


def i32(v):
    """C int32 wrap-around."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


def step(s):
    """One MRG31k3p step of state s (6 ints): (new state, x1 - x2 mapped to [1, M1])."""
    x11, x12, x13, x21, x22, x23 = s
    y1 = i32(i32((x12 & 0x1FF) << 22) + (x12 >> 9) + i32((x13 & 0xFFFFFF) << 7) + (x13 >> 24))
    if y1 < 0 or y1 >= M1:
        y1 = i32(y1 - M1)
    y1 = i32(y1 + x13)
    if y1 < 0 or y1 >= M1:
        y1 = i32(y1 - M1)
    a = i32(i32((x21 & 0xFFFF) << 15) + 21069 * (x21 >> 16))
    if a < 0 or a >= M2:
        a = i32(a - M2)
    y2 = i32(i32((x23 & 0xFFFF) << 15) + 21069 * (x23 >> 16))
    if y2 < 0 or y2 >= M2:
        y2 = i32(y2 - M2)
    y2 = i32(y2 + x23)
    if y2 < 0 or y2 >= M2:
        y2 = i32(y2 - M2)
    y2 = i32(y2 + a)
    if y2 < 0 or y2 >= M2:
        y2 = i32(y2 - M2)
    new = [y1, x11, x12, y2, x21, x22]
    v = y1 - y2 + M1 if y1 <= y2 else y1 - y2
    return new, v


def _transition(m, which):
    # x_n from (x_{n-1}, x_{n-2}, x_{n-3})
    if which == 1:
        return [[0, 4194304, 129], [1, 0, 0], [0, 1, 0]]
    return [[32768, 0, 32769], [1, 0, 0], [0, 1, 0]]


def _mm(a, b, m):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) % m for j in range(3)] for i in range(3)]


def _pow2(a, e, m):
    for _ in range(e):
        a = _mm(a, a, m)
    return a


_POW = {}


def jump(s, e):
    """State ``s`` advanced 2**e steps."""
    if e not in _POW:
        _POW[e] = _pow2(_transition(M1, 1), e, M1), _pow2(_transition(M2, 2), e, M2)
    a1, a2 = _POW[e]
    x1 = [sum(a1[i][k] * s[k] for k in range(3)) % M1 for i in range(3)]
    x2 = [sum(a2[i][k] * s[3 + k] for k in range(3)) % M2 for i in range(3)]
    return x1 + x2


def n_streams(size):
    if isinstance(size, tuple) and all(isinstance(d, int) for d in size):
        r = int(np.prod(size))
        return min(r // 6 if r > 6 else r, 60 * 256)
    return 60 * 256


class Generator:
    """What MRG_RandomStreams(seed) hands out, call after call."""

    def __init__(self, seed):
        self.rstate = [seed] * 6 if isinstance(seed, int) else list(seed)
        self._j72 = None

    def streams(self, n):
        out = [list(self.rstate)]
        for _ in range(n - 1):
            out.append(jump(out[-1], 72))
        self.rstate = jump(self.rstate, 134)
        return out

    def uniform(self, size, dtype="float64", nstreams=None):
        """Theano's uniform draw (0, 1) of ``size`` (C order) and the final stream states."""
        n = int(np.prod(size))
        st = self.streams(nstreams or n_streams(size))
        vals = []
        for i in range(n):
            k = i % len(st)
            st[k], v = step(st[k])
            vals.append(v)
        v = np.asarray(vals, dtype="int64")
        if dtype == "float32":      # C: (float)v * 4.6566126e-10f, in float32
            u = v.astype("float32") * np.float32(4.6566126e-10)
        else:
            u = v.astype("float64") * (1.0 / 2 ** 31)
        return u.reshape(size), np.asarray(st, dtype="int32")


def box_muller(u, n, dtype):
    """Theano's MRG normal from its ``2 * ceil(n / 2)`` uniforms ``u``: the first n values."""
    h = len(u) // 2
    u1, u2 = u[:h], u[h:]
    r = np.sqrt(np.asarray(-2.0, dtype) * np.log(u1))
    theta = np.asarray(2.0 * np.pi, dtype) * u2
    return np.concatenate([r * np.cos(theta), r * np.sin(theta)])[:n]


def multinomial_walk(pvals, unis, n):
    """Counts: draw c of row r takes the first outcome whose running (double) sum > unis[c*R+r]."""
    R, K = pvals.shape
    out = np.zeros((R, K), dtype="int64")
    for c in range(n):
        for r in range(R):
            acc = 0.0
            for m in range(K):
                acc += float(pvals[r, m])
                if acc > float(unis[c * R + r]):
                    out[r, m] += 1
                    break
    return out


def choice_walk(pvals, unis, n):
    """Without replacement: as multinomial_walk, then the row renormalized without the pick."""
    p = np.array(pvals, copy=True)
    R, K = p.shape
    out = np.full((R, n), -1, dtype="int64")
    for c in range(n):
        for r in range(R):
            acc = 0.0
            for m in range(K):
                acc += float(p[r, m])
                if acc > float(unis[c * R + r]):
                    out[r, c] = m
                    if c < n - 1:
                        total = p.dtype.type(acc - float(p[r, m]))
                        p[r, m] = 0
                        for j in range(m, K):
                            total = p.dtype.type(total + p[r, j])
                        p[r] = p[r] / total
                    break
    return out
