"""``tvmsym.printing``: pp/pprint, debugprint (and pydotprint)."""
from .symbolic.printing import pp, pprint, debugprint  # noqa: F401
from .symbolic.pydotprint import pydotprint  # noqa: F401
from .symbolic.ops.debug import Print  # noqa: F401,E402
