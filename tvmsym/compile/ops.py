"""``theano.compile.ops``: ``as_op``."""
from ..symbolic.ops.fromfunction import FromFunctionOp, as_op  # noqa: F401
