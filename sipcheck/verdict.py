"""The verdict vocabulary: actions, reason codes, and the verdict object every edge returns.

Reason codes are a stable public interface (SIP headers, JSON, CSV columns,
metrics labels, policy configuration): add new ones, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sipcheck.model import CertStatus, Rule
from sipcheck.numbers import InvalidNumber, PhoneNumber


class Action(StrEnum):
    ALLOW = "allow"
    FLAG = "flag"
    BLOCK = "block"


SEVERITY: dict[Action, int] = {Action.ALLOW: 0, Action.FLAG: 1, Action.BLOCK: 2}


class Reason(StrEnum):
    INVALID_NUMBER = "invalid_number"
    SUSPENDED = "suspended"
    BLOCK_NOT_DESIGNATED = "block_not_designated"  # covered range, no designation: never issued, spoofed
    BLOCK_NOT_IN_USE = "block_not_in_use"  # designated, but MIC lists it 使用予定 (planned, not in service)
    BLOCK_NOT_DESIGNATED_STALE = "block_not_designated_stale"  # the same, but in data too old to call spoofed
    DESIGNATION_UNKNOWN = "designation_unknown"  # the loaded data does not cover the number's range
    DESIGNATED_OPERATOR_UNKNOWN = "designated_operator_unknown"  # designated, operator not named: no check
    DESIGNATION_DATA_STALE = "designation_data_stale"  # the range's data is older than data.max_age_days
    INTERNATIONAL_NUMBER = "international_number"
    ANONYMOUS = "anonymous"  # no number to screen (Privacy: id, anonymous From)
    PAYPHONE = "payphone"  # no number to screen: a public payphone (公衆電話), a caller kind of its own
    INGRESS_UNKNOWN = "ingress_unknown"  # the peer that handed us the call is not a known trunk
    DATA_UNAVAILABLE = "data_unavailable"
    DATA_FROM_SNAPSHOT = "data_from_snapshot"
    DESIGNATED_OPERATOR_UNCERTIFIED = "designated_operator_uncertified"
    DESIGNATED_OPERATOR_PROVISIONAL = "designated_operator_provisional"
    DESIGNATED_OPERATOR_EXPIRED = "designated_operator_expired"
    DESIGNATED_OPERATOR_REVOKED = "designated_operator_revoked"
    SERVING_OPERATOR_UNCERTIFIED = "serving_operator_uncertified"
    SERVING_OPERATOR_PROVISIONAL = "serving_operator_provisional"
    SERVING_OPERATOR_EXPIRED = "serving_operator_expired"
    SERVING_OPERATOR_REVOKED = "serving_operator_revoked"
    INGRESS_OPERATOR_UNCERTIFIED = "ingress_operator_uncertified"
    INGRESS_OPERATOR_PROVISIONAL = "ingress_operator_provisional"
    INGRESS_OPERATOR_EXPIRED = "ingress_operator_expired"
    INGRESS_OPERATOR_REVOKED = "ingress_operator_revoked"
    OVERRIDE_ALLOW = "override_allow"  # an operator's allow override: lifts every reason but a suspension
    OVERRIDE_DENY = "override_deny"  # an operator's deny override (an emergency block)
    CONTRACTOR_REFUSED = "contractor_refused"  # the range is held by a contractor on the refusal list
    CONTRACTOR_SUSPENDED_ELSEWHERE = "contractor_suspended_elsewhere"  # its contractor has suspensions

    @classmethod
    def for_operator(cls, role: str, status: CertStatus) -> Reason:
        return _OPERATOR_REASONS[role, status]


_OPERATOR_REASONS: dict[tuple[str, CertStatus], Reason] = {
    (role, status): Reason(f"{role}_operator_{status.value}")
    for role in ("designated", "serving", "ingress")
    for status in CertStatus
    if status is not CertStatus.CERTIFIED
}


@dataclass(frozen=True, slots=True)
class OperatorView:
    """An operator involved in the call, with the certification status in force that day."""

    role: str
    id: str
    name: str
    status: CertStatus
    round: str | None = None
    valid_until: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "id": self.id or None,
            "name": self.name,
            "status": self.status.value,
            "round": self.round,
            "valid_until": self.valid_until,
        }


def rule_dict(rule: Rule) -> dict[str, Any]:
    """A rule as verdicts, the admin API and the audit trail show it."""
    return {
        "id": rule.id,
        "action": rule.action.value,
        "scope": rule.scope.value,
        "target": rule.target,
        "reason": rule.reason or None,
        "reference": rule.reference,
        "source": rule.source,
        "author": rule.author,
        "created": rule.created.isoformat() if rule.created else None,
        "until": rule.until.isoformat() if rule.until else None,
        "contractor": rule.contractor or None,
        "via": rule.operator or None if rule.action.value == "contract" else None,
    }


@dataclass(frozen=True, slots=True)
class SipMapping:
    """How the verdict goes into SIP: reject with ``code`` or continue with ``headers`` added."""

    reject: bool
    code: int | None
    reason_phrase: str | None
    headers: tuple[tuple[str, str], ...]

    def header_name(self, suffix: str) -> str:
        """The name of a verdict header with this mapping's prefix (the policy's ``header_prefix``,
        read off its ``…-Verdict`` header): ``header_name("Privacy")`` → ``X-Sipcheck-Privacy``.
        What an edge adds to the verdict headers is named like them."""
        prefix = next(
            (n[: -len("-Verdict")] for n, _ in self.headers if n.endswith("-Verdict")), "X-Sipcheck"
        )
        return f"{prefix}-{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": "reject" if self.reject else "continue",
            "code": self.code,
            "reason_phrase": self.reason_phrase,
            "headers": dict(self.headers),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reasons: tuple[Reason, ...]
    input: str
    number: PhoneNumber | None
    operators: tuple[OperatorView, ...]
    data_version: str
    sip: SipMapping
    error: InvalidNumber | None = None
    rules: tuple[Rule, ...] = ()  # the rules in force that gave a reason (suspensions, the override)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape shared by the CLI's --json, the HTTP API and the batch screen."""
        number = self.number
        return {
            "input": self.input,
            "action": self.action.value,
            "reasons": [r.value for r in self.reasons],
            "number": None
            if number is None
            else {
                "e164": number.e164,
                "national": number.national or None,
                "kind": number.kind.value,
                "block": number.block or None,
                "privacy": number.privacy.value if number.privacy else None,
            },
            "error": None if self.error is None else {"code": self.error.code, "message": self.error.detail},
            "operators": [op.to_dict() for op in self.operators],
            "data_version": self.data_version,
            "sip": self.sip.to_dict(),
            "rules": [rule_dict(r) for r in self.rules],
        }
