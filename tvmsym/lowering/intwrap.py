"""Integer ``+ - *`` that wrap around as numpy's do.

TVM's LLVM code generator emits 32- and 64-bit integer ``add``/``sub``/``mul`` with
``nsw`` (signed) or ``nuw`` (unsigned) flags: an overflow is then LLVM *poison*, and
LLVM folds on that assumption (``0 - u`` on uint32 became 0, ``3 ** 40`` on int32 became
0).  numpy wraps modulo 2**bits.  8- and 16-bit arithmetic has no flags.

* 32-bit: the operation is done in 64 bits, where it cannot overflow (a uint32 product
  in uint64, a difference in int64), and truncated back: exact wrap-around; LLVM narrows
  it again where it can.
* 64-bit: no wider type; negation is done as ``~x + 1`` (LLVM cannot fold it to 0 as it
  folds ``0 -nuw x``), and a subtraction from a constant as ``c + (~x + 1)``.  With values
  loaded at run time the hardware's wrapping result is what the flagged instruction gives.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm

tirx = _tvm.tirx


def _info(x):
    d = str(x.ty)
    if d == "bool":
        return None, 0
    k = np.dtype(d).kind
    return (k if k in "iu" else None), np.dtype(d).itemsize * 8


def _wide(op, a, b, out, wide):
    return op(a.astype(wide), b.astype(wide)).astype(out)


def add(a, b):
    kind, bits = _info(a)
    if kind and bits == 32:
        return _wide(lambda x, y: x + y, a, b, str(a.ty), "int64")
    return a + b


def sub(a, b):
    kind, bits = _info(a)
    if kind and bits == 32:
        return _wide(lambda x, y: x - y, a, b, str(a.ty), "int64")
    if kind == "u" and bits == 64 and isinstance(a, tirx.IntImm):
        return a + neg(b)
    return a - b


def mul(a, b):
    kind, bits = _info(a)
    if kind and bits == 32:
        return _wide(lambda x, y: x * y, a, b, str(a.ty), "int64" if kind == "i" else "uint64")
    return a * b


def neg(x):
    kind, bits = _info(x)
    if kind and bits == 32:
        return (tirx.const(0, "int64") - x.astype("int64")).astype(str(x.ty))
    if kind and bits == 64:
        return tirx.bitwise_not(x) + tirx.const(1, str(x.ty))
    if kind == "u":
        return tirx.const(0, str(x.ty)) - x
    return -x
