"""Gradient rules, one module per op family (registered into ``symbolic/grad.py``'s tables).

Importing this package registers every family.  A family that fails to import is an error,
never skipped: its ops would silently have no gradient.  A new family adds one line.
"""
from . import elemwise  # noqa: F401
from . import dimshuffle  # noqa: F401
from . import reduce  # noqa: F401
from . import linalg  # noqa: F401
from . import shape  # noqa: F401
from . import reshape  # noqa: F401
from . import repeat  # noqa: F401
from . import alloc  # noqa: F401
from . import rearrange  # noqa: F401
from . import subtensor  # noqa: F401
from . import nnet  # noqa: F401
from . import sort  # noqa: F401
from . import cum  # noqa: F401
from . import random  # noqa: F401
from . import ifelse  # noqa: F401
from . import scan  # noqa: F401
from . import linalg_host  # noqa: F401  (linalg helper)
from . import special  # noqa: F401
from . import conv  # noqa: F401
from . import pool  # noqa: F401
from . import complex  # noqa: F401  (after elemwise and linalg: it wraps their rules)
from . import sparse  # noqa: F401
from . import helpers  # noqa: F401  (rng: arctan2, arc*h, second)
from . import distributed  # noqa: F401  (collectives: AllReduce, Broadcast, AllGather)
from . import modifiers  # noqa: F401  (zeros helper: zero_grad, disconnected_grad, grad_clip)
