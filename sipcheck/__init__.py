"""sipcheck: caller-number screening and the forwarding identification tone for Japanese call routing.

The library API in one import::

    from sipcheck import MemoryStore, Screener
    verdict = Screener(MemoryStore(parts)).check("03-5253-5111", ingress="trunk-a")
    verdict.action, verdict.reasons, verdict.sip.code
"""

from sipcheck.numbers import InvalidNumber, NumberKind, PhoneNumber, parse_number
from sipcheck.policy import PolicyConfig, decide
from sipcheck.screener import Screener
from sipcheck.store import FactStore, MemoryStore, StoreError
from sipcheck.verdict import Action, Reason, Verdict

__version__ = "0.1.0"

__all__ = [
    "Action",
    "FactStore",
    "InvalidNumber",
    "MemoryStore",
    "NumberKind",
    "PhoneNumber",
    "PolicyConfig",
    "Reason",
    "Screener",
    "StoreError",
    "Verdict",
    "__version__",
    "decide",
    "parse_number",
]
