"""The decision log's record: one JSON object per screened call, the same columns as a screened CDR.

Why the screen's columns: "why was this call blocked at 10:32" is answered by reading the log
like a call-record file (`sipcheck screen`, `sipcheck report`), so a decision record *is* a
screened call record: when, which call, who called, over which ingress, through which edge, and
the verdict columns `sipcheck.batch.csvio.OUTPUT_COLUMNS` writes (action, reasons, e164, kind,
block, the operators by name, data version: `csvio.signature_columns`, the one writer of them),
plus the rule ids that spoke.

Pure: building a record needs no I/O; `sipcheck.decisionlog` writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sipcheck.batch.csvio import OUTPUT_COLUMNS, signature_columns
from sipcheck.verdict import Verdict

DECISION_FIELDS: Final[tuple[str, ...]] = (
    *("time", "call_id", "caller", "ingress", "edge"),
    *OUTPUT_COLUMNS,
    *("rules", "contractor"),
)
"""Every key of a decision record, in this order. ``reasons`` and ``rules`` are ``;``-joined, as in
a screened CSV; ``time`` is ISO 8601 UTC with milliseconds; ``contractor`` is the contractor (契約者)
holding the number's range ('' when no contract rule names one), for reports per contractor."""

EDGES: Final = frozenset({"sip", "http", "kamailio", "library"})


def decision_record(
    verdict: Verdict, *, at: datetime, edge: str, call_id: str | None = None, ingress: str | None = None
) -> dict[str, Any]:
    """The decision record of one screened call."""
    number = verdict.number
    moment = at.astimezone(UTC)
    action, reasons, designated, status, serving, ingress_operator, version = signature_columns(verdict)
    return {
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "call_id": call_id,
        "caller": verdict.input,
        "ingress": ingress,
        "edge": edge,
        "action": action,
        "reasons": reasons,
        "e164": number.e164 if number else "",
        "kind": number.kind.value if number else "",
        "block": number.block if number else "",
        "designated_operator": designated,
        "designated_status": status,
        "serving_operator": serving,
        "ingress_operator": ingress_operator,
        "data_version": version,
        "rules": ";".join(r.id for r in verdict.rules),
        "contractor": ";".join(
            dict.fromkeys(r.contractor for r in verdict.rules if r.action.value == "contract")
        ),
    }
