"""Vectorised batch screening of call records (see docs/batch.md).

`screen_array` screens numbers already in memory; `screen_csv` streams a CDR
file through it in chunks. Both gather facts with numpy and leave every
verdict to `sipcheck.policy.decide`, once per distinct fact signature.
"""

from sipcheck.batch.csvio import BadRow, BatchError, BatchSummary, screen_csv
from sipcheck.batch.screen import ACTIONS, BatchResult, screen_array
from sipcheck.batch.tables import BatchTables, compile_tables, load_tables

__all__ = [
    "ACTIONS",
    "BadRow",
    "BatchError",
    "BatchResult",
    "BatchSummary",
    "BatchTables",
    "compile_tables",
    "load_tables",
    "screen_array",
    "screen_csv",
]
