"""`sipcheck report`: flagged and blocked traffic per operator over a window, for a submission.

`read` turns screened call records (CSV, .csv.gz, Parquet) and decision logs (JSON lines) into
uniform Arrow record batches; `aggregate` folds those batches into a `Report` (pure, no I/O);
`render` writes it as one CSV table and as one self-contained HTML page.
"""

from sipcheck.report.aggregate import Report, aggregate
from sipcheck.report.read import ReportInputError, read_batches

__all__ = ["Report", "ReportInputError", "aggregate", "read_batches"]
