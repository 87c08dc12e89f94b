"""``tvmsym.printing``: pp/pprint, debugprint (and pydotprint)."""
from .symbolic.ops.debug import Print  # noqa: F401,E402
from .symbolic.printing import debugprint, pp, pprint  # noqa: F401
from .symbolic.pydotprint import pydotprint  # noqa: F401
