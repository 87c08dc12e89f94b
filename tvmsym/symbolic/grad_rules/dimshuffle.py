"""Gradient of DimShuffle: the inverse shuffle, summing over inserted dimensions."""
from ..elemwise import DimShuffle
from ..grad import register_grad


@register_grad(DimShuffle)
def dimshuffle_grad(node, inputs, gouts):
    from ..basic import dimshuffle
    from ..ops.reduce import sum as _sum
    op, (gz,) = node.op, gouts
    aug = [d for d in op.augment if not gz.broadcastable[d]]
    if aug:
        gz = _sum(gz, axis=aug, keepdims=True)
    # drop the inserted ('x') dimensions
    kept = [d for d in range(len(op.new_order)) if op.new_order[d] != "x"]
    if len(kept) != gz.ndim:
        gz = dimshuffle(gz, kept)
    # gz's dimensions are now the input's kept dimensions, in shuffle order
    pattern = ["x" if d in op.drop else op.shuffle.index(d) for d in range(len(op.input_broadcastable))]
    if pattern != list(range(gz.ndim)):
        gz = dimshuffle(gz, pattern)
    return [gz]


dimshuffle_grad.broadcasting_ok = True
