"""Gradient of Theano's ``second(a, b)``: nothing flows to ``a`` (only its shape is read),
``gz`` flows to ``b`` (the Elemwise rule sums it back over b's broadcast dimensions)."""
from ..grad import is_continuous, register_scalar_grad, zeros_like
from ..ops.second import Second


@register_scalar_grad(Second)
def _second(op, inp, z, gz):
    a, b = inp
    return [zeros_like(a) if is_continuous(a) else None, gz if is_continuous(b) else None]
