"""Local rewrites registered by the op they track, grouped into named databases.

A local rewrite is ``fn(fgraph, node) -> list of replacement variables | None``.
It is indexed by what it tracks: an Op class (``DimShuffle``) or a scalar op
class (``type(ps.log)``), meaning an ``Elemwise`` of that scalar op, so a stage
only tries the rules that can match a node.  ``excluding`` names rules or tags.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..elemwise import Elemwise
from ..graph import Constant, Op
from ..scalar import ScalarOp

MAX_PASSES = 32      # a stage that still changes the graph after this many passes is a bug


@dataclass
class NodeRewriter:
    name: str
    fn: object
    tracks: tuple
    tags: tuple = field(default_factory=tuple)

    def enabled(self, excluding):
        return self.name not in excluding and not (set(self.tags) & set(excluding))


class RewriteDB:
    """Local rewrites of one stage (``canonicalize``, ``stabilize`` ...), indexed by op."""

    def __init__(self, name):
        self.name = name
        self.rewriters = []
        self._by_key = {}

    def register(self, *tracks, tags=()):
        """Decorator: ``@db.register(type(ps.mul), tags=("algebraic",))``."""
        def deco(fn):
            rw = NodeRewriter(fn.__name__, fn, tuple(tracks), (self.name,) + tuple(tags))
            self.rewriters.append(rw)
            for t in tracks:
                self._by_key.setdefault(t, []).append(rw)
            return fn
        return deco

    def for_node(self, node):
        op = node.op
        found = []
        keys = list(type(op).__mro__)
        if isinstance(op, Elemwise):
            keys += list(type(op.scalar_op).__mro__)
        for k in keys:
            if k in (object, Op, ScalarOp):
                continue
            found.extend(self._by_key.get(k, ()))
        return found

    def run(self, fgraph, excluding=()):
        """Apply the rules until none fires (a fixpoint); returns the rule names that fired."""
        excluding = set(excluding)
        fired = []
        for _ in range(MAX_PASSES):
            changed = False
            for node in fgraph.toposort():
                if node not in fgraph.apply_nodes:
                    continue        # replaced earlier in this pass
                for rw in self.for_node(node):
                    if not rw.enabled(excluding):
                        continue
                    new = rw.fn(fgraph, node)
                    if not new:
                        continue
                    fgraph.replace_all(list(zip(node.outputs, new)), reason=rw.name)
                    fired.append(rw.name)
                    changed = True
                    break
            if not changed:
                return fired
        raise RuntimeError(f"rewrite stage {self.name!r} did not reach a fixpoint after "
                           f"{MAX_PASSES} passes; last rules fired: {fired[-2:]}")


# ----------------------------------------------------------------- helpers for rules
def scalar_value(v):
    """The value of a one-element constant (possibly behind a broadcasting DimShuffle), else None."""
    from ..elemwise import DimShuffle
    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    if isinstance(v, Constant) and v.data.size == 1:
        return v.data.reshape(()).item()
    return None


def is_elemwise(v, scalar_op=None):
    """True if ``v`` is the output of an Elemwise (of ``scalar_op``'s class if given)."""
    node = v.owner
    if node is None or not isinstance(node.op, Elemwise):
        return False
    return scalar_op is None or type(node.op.scalar_op) is type(scalar_op)


def same_type(old, new):
    """A replacement must keep the dtype and the broadcast pattern."""
    return new is not None and old.type == new.type
