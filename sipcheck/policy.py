"""The one place a verdict is decided: `decide(facts, policy, today)`.

Pure: no I/O, no clock of its own. The SIP agent, the HTTP API, the CLI and the
batch screen all call this function, so the same facts and policy always give
the same verdict everywhere.

Defaults (see `DEFAULT_ACTIONS`): block a suspended number, a number from a
block that real designation data for its range says was never issued (spoofed),
an invalid number, and a number whose designated or serving operator is revoked;
flag an uncertified, provisional or expired operator anywhere in the chain, an
unknown ingress peer, a foreign number, an anonymous caller, and missing data;
allow otherwise. What the data cannot tell is said as such and allowed: a range
the data does not cover (`designation_unknown`), a designated block whose operator
is not named (`designated_operator_unknown`), designation data older than
``data.max_age_days`` (`designation_data_stale`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sipcheck.facts import Facts, OperatorFacts, Role
from sipcheck.model import CertStatus, Rule, RuleAction
from sipcheck.numbers import NumberKind, no_number_kind
from sipcheck.rules import winning_override
from sipcheck.verdict import SEVERITY, Action, OperatorView, Reason, SipMapping, Verdict

DEFAULT_ACTIONS: dict[Reason, Action] = {
    Reason.INVALID_NUMBER: Action.BLOCK,
    Reason.SUSPENDED: Action.BLOCK,
    Reason.BLOCK_NOT_DESIGNATED: Action.BLOCK,
    Reason.BLOCK_NOT_IN_USE: Action.FLAG,
    # Absence of data is not evidence of spoofing: said in the verdict, never held against the caller.
    Reason.DESIGNATION_UNKNOWN: Action.ALLOW,
    Reason.DESIGNATED_OPERATOR_UNKNOWN: Action.ALLOW,
    Reason.DESIGNATION_DATA_STALE: Action.ALLOW,
    # Not designated as of data older than data.max_age_days: the block may have been issued since.
    Reason.BLOCK_NOT_DESIGNATED_STALE: Action.FLAG,
    Reason.INTERNATIONAL_NUMBER: Action.FLAG,
    Reason.ANONYMOUS: Action.FLAG,
    # A payphone shows no number either, but it is no withheld caller: blocking anonymous calls
    # must not cut off the phones people use when they have none.
    Reason.PAYPHONE: Action.FLAG,
    Reason.INGRESS_UNKNOWN: Action.FLAG,
    Reason.DATA_UNAVAILABLE: Action.FLAG,  # replaced by the fail policy, see PolicyConfig.fail_policy
    Reason.DATA_FROM_SNAPSHOT: Action.ALLOW,
    Reason.DESIGNATED_OPERATOR_REVOKED: Action.BLOCK,
    Reason.SERVING_OPERATOR_REVOKED: Action.BLOCK,
    # An upstream trunk partner losing certification should be looked at, not cut off mid-traffic.
    Reason.INGRESS_OPERATOR_REVOKED: Action.FLAG,
    Reason.OVERRIDE_ALLOW: Action.ALLOW,
    Reason.OVERRIDE_DENY: Action.BLOCK,
    # A contractor hopping from operator to operator (事業者渡り) is to be refused new numbers; the
    # numbers it already holds are looked at, not cut off.
    Reason.CONTRACTOR_REFUSED: Action.FLAG,
    Reason.CONTRACTOR_SUSPENDED_ELSEWHERE: Action.ALLOW,  # said, so it can be seen and reported
}

OVERRIDE_PROOF: frozenset[Reason] = frozenset({Reason.SUSPENDED})
"""What an allow override does not lift: a suspension is a police request, not a screening
judgement an operator may correct; it ends when the request is withdrawn (the feed removes it)."""
for _role in Role:
    for _status in (CertStatus.UNCERTIFIED, CertStatus.PROVISIONAL, CertStatus.EXPIRED):
        DEFAULT_ACTIONS[Reason.for_operator(_role.value, _status)] = Action.FLAG

DEFAULT_MAX_AGE_DAYS = 60
"""Designation data older than this many days is stale (MIC updates its files monthly): the
default of `sipcheck.settings.DataSettings.max_age_days`, and of a policy compiled without it."""

REASON_PHRASES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    417: "Unknown Resource-Priority",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    424: "Bad Location Information",
    425: "Bad Alert Message",
    428: "Use Identity Header",
    429: "Provide Referrer Identity",
    430: "Flow Failed",
    433: "Anonymity Disallowed",
    436: "Bad Identity Info",
    437: "Unsupported Credential",
    438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded",
    469: "Bad Info Package",
    470: "Consent Needed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}
"""The final error responses of the IANA SIP response-code registry (RFC 3261 and its extensions),
with their reason phrases: a reject code must be one of these, so a 486 goes out as "Busy Here",
never as "486 Rejected", and a typo (499) is refused when the settings load."""


def check_reject_code(value: int, what: str = "reject_code") -> int:
    if value not in REASON_PHRASES:
        raise ValueError(
            f"{what} {value} is not a SIP final error response in the IANA registry "
            "(e.g. 403 Forbidden, 433 Anonymity Disallowed, 603 Decline, 607 Unwanted, 608 Rejected)"
        )
    return value


class PolicyConfig(BaseModel):
    """Which reasons block and which flag, and how a verdict is written into SIP."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: dict[Reason, Action] = Field(
        default_factory=dict, description="per-reason overrides of DEFAULT_ACTIONS"
    )
    fail_policy: Literal["open", "closed", "snapshot"] = Field(
        default="open",
        description=(
            "when the data cannot be read: open = flag (data_unavailable), closed = block, "
            "snapshot = answer from the process's last local snapshot and say so"
        ),
    )
    reject_code: int = Field(default=608, description="SIP response code for a blocked call (RFC 8688)")
    reject_codes: dict[Reason, int] = Field(
        default_factory=lambda: {Reason.ANONYMOUS: 433},
        description="per-reason reject codes; the first blocking reason with one wins",
    )
    header_prefix: str = Field(default="X-Sipcheck", description="prefix of the verdict headers")
    verstat: bool = Field(
        default=False, description="also emit a verstat value (3GPP TS 24.229) in the verdict headers"
    )
    call_info: str | None = Field(
        default=None, description="Call-Info URI on a 608 saying who rejected and how to appeal (RFC 8688)"
    )

    @field_validator("reject_code")
    @classmethod
    def _valid_code(cls, value: int) -> int:
        return check_reject_code(value)

    @field_validator("reject_codes")
    @classmethod
    def _valid_codes(cls, value: dict[Reason, int]) -> dict[Reason, int]:
        for reason, code in value.items():
            check_reject_code(code, f"reject_codes.{reason.value}")
        return value

    def action_for(self, reason: Reason) -> Action:
        if reason is Reason.DATA_UNAVAILABLE:
            return Action.BLOCK if self.fail_policy == "closed" else Action.FLAG
        return self.actions.get(reason) or DEFAULT_ACTIONS.get(reason, Action.FLAG)

    def compile(self, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> CompiledPolicy:
        return CompiledPolicy(self, max_age_days)


class CompiledPolicy:
    """A PolicyConfig turned into dict lookups, with SIP mappings memoised per outcome.

    Reason combinations are few, so the header strings of a verdict are built
    once per (action, reasons, data version), not once per call.
    """

    __slots__ = ("_outcomes", "_sip_cache", "_view_cache", "actions", "config", "max_age_days")

    def __init__(self, config: PolicyConfig, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.config = config
        self.max_age_days = max_age_days
        self.actions: dict[Reason, Action] = {reason: config.action_for(reason) for reason in Reason}
        self._sip_cache: dict[tuple[Action, tuple[Reason, ...], str], SipMapping] = {}
        self._view_cache: dict[int, tuple[OperatorFacts, date, OperatorView]] = {}
        # Outcome of `decide` per fact signature (see `decide`); values hold the operator objects
        # keyed by id, so an id cannot be reused while its entry lives.
        self._outcomes: dict[tuple[object, ...], _Outcome] = {}

    def operator_view(self, op: OperatorFacts, today: date) -> OperatorView:
        """The operator's view on ``today``, memoised per operator object (stores build them once)."""
        cached = self._view_cache.get(id(op))
        # The cache holds ``op`` itself, so its id cannot be reused while the entry lives.
        if cached is not None and cached[0] is op and cached[1] == today:
            return cached[2]
        view = _operator_view(op, today)
        if len(self._view_cache) > 65536:
            self._view_cache.clear()
        self._view_cache[id(op)] = (op, today, view)
        return view

    def sip_mapping(self, action: Action, reasons: tuple[Reason, ...], data_version: str) -> SipMapping:
        key = (action, reasons, data_version)
        mapping = self._sip_cache.get(key)
        if mapping is None:
            mapping = self._build_sip(action, reasons, data_version)
            if len(self._sip_cache) > 4096:
                self._sip_cache.clear()
            self._sip_cache[key] = mapping
        return mapping

    def _build_sip(self, action: Action, reasons: tuple[Reason, ...], data_version: str) -> SipMapping:
        cfg = self.config
        prefix = cfg.header_prefix
        reason_text = ",".join(r.value for r in reasons)
        headers: list[tuple[str, str]] = [(f"{prefix}-Verdict", action.value)]
        if reasons:
            headers.append((f"{prefix}-Reasons", reason_text))
        if data_version:
            headers.append((f"{prefix}-Data-Version", data_version))
        if cfg.verstat:
            verstat = {
                Action.ALLOW: "TN-Validation-Passed",
                Action.FLAG: "No-TN-Validation",
                Action.BLOCK: "TN-Validation-Failed",
            }[action]
            headers.append((f"{prefix}-Verstat", verstat))
        if action is not Action.BLOCK:
            return SipMapping(False, None, None, tuple(headers))
        code = cfg.reject_code
        for reason in reasons:
            if self.actions[reason] is Action.BLOCK and reason in cfg.reject_codes:
                code = cfg.reject_codes[reason]
                break
        blocking = [r.value for r in reasons if self.actions[r] is Action.BLOCK]
        headers.append(("Reason", f'SIP;cause={code};text="{",".join(blocking)}"'))
        if cfg.call_info and code == 608:
            headers.append(("Call-Info", f"<{cfg.call_info}>;purpose=jws-call-info"))
        return SipMapping(True, code, REASON_PHRASES[code], tuple(headers))


def _operator_view(op: OperatorFacts, today: date) -> OperatorView:
    cert = op.certification
    status = cert.status_on(today) if cert is not None else CertStatus.UNCERTIFIED
    return OperatorView(
        op.role.value,
        op.id,
        op.name,
        status,
        cert.round if cert else None,
        cert.valid_until.isoformat() if cert and cert.valid_until else None,
    )


_Outcome = tuple[
    OperatorFacts | None,
    OperatorFacts | None,
    OperatorFacts | None,
    Action,
    tuple[Reason, ...],
    tuple[OperatorView, ...],
    SipMapping,
    tuple[Rule, ...],
]


def decide(facts: Facts, policy: CompiledPolicy, today: date) -> Verdict:
    """Turn the facts about one call into its verdict under ``policy`` on ``today``.

    A verdict depends only on a small *fact signature* (kind, suspension, block
    state, the range's as-of date, which operator objects stand in the chain,
    ingress, snapshot, data version, day), and a call path sees few distinct ones; the outcome is
    memoised per signature and only the per-call fields (input, number) are new.
    Operator objects are keyed by identity: stores build them once per data version.
    """
    number = facts.number
    if facts.error is not None or number is None or not facts.available:
        return _decide(facts, policy, today)
    designated, serving, ingress, block = facts.designated, facts.serving, facts.ingress, facts.block
    key = (
        number.kind is NumberKind.INTERNATIONAL,
        facts.suspension is not None,
        None if block is None else block.in_use,
        facts.designations_as_of,
        id(designated),
        id(serving),
        id(ingress),
        facts.ingress_peer is not None,
        facts.from_snapshot,
        facts.data_version,
        today,
        facts.rules,
    )
    hit = policy._outcomes.get(key)
    if hit is not None and hit[0] is designated and hit[1] is serving and hit[2] is ingress:
        return Verdict(hit[3], hit[4], facts.input, number, hit[5], facts.data_version, hit[6], None, hit[7])
    verdict = _decide(facts, policy, today)
    if len(policy._outcomes) > 65536:
        policy._outcomes.clear()
    policy._outcomes[key] = (
        designated,
        serving,
        ingress,
        verdict.action,
        verdict.reasons,
        verdict.operators,
        verdict.sip,
        verdict.rules,
    )
    return verdict


def _decide(facts: Facts, policy: CompiledPolicy, today: date) -> Verdict:
    reasons: list[Reason] = []
    views: list[OperatorView] = []
    applied: tuple[Rule, ...] = ()
    number = facts.number
    if facts.error is not None or number is None:
        reasons.append(Reason.INVALID_NUMBER)
    elif not facts.available:
        reasons.append(Reason.DATA_UNAVAILABLE)
    else:
        if facts.rules:
            applied = _rules_in_force(facts.rules, today)
        if facts.suspension is not None or any(r.action is RuleAction.SUSPEND for r in applied):
            reasons.append(Reason.SUSPENDED)
        if number.kind is NumberKind.INTERNATIONAL:
            reasons.append(Reason.INTERNATIONAL_NUMBER)
        else:
            _designation_reasons(facts, policy, today, reasons)
        for op in (facts.designated, facts.serving, facts.ingress):
            if op is None:
                continue
            view = policy.operator_view(op, today)
            views.append(view)
            if view.status is not CertStatus.CERTIFIED:
                reasons.append(Reason.for_operator(op.role.value, view.status))
        if facts.ingress_peer is not None and facts.ingress is None:
            reasons.append(Reason.INGRESS_UNKNOWN)
        if facts.from_snapshot:
            reasons.append(Reason.DATA_FROM_SNAPSHOT)
        for rule in applied:
            if rule.action is RuleAction.REFUSE:
                reasons.append(Reason.CONTRACTOR_REFUSED)
            elif rule.action is RuleAction.NOTE:
                reasons.append(Reason.CONTRACTOR_SUSPENDED_ELSEWHERE)
        for rule in applied:
            if rule.action is RuleAction.DENY:
                reasons.append(Reason.OVERRIDE_DENY)
            elif rule.action is RuleAction.ALLOW:
                reasons.append(Reason.OVERRIDE_ALLOW)
    actions = policy.actions
    action = Action.ALLOW
    worst = 0
    counted: list[Reason] | tuple[Reason, ...] = reasons
    if Reason.OVERRIDE_ALLOW in reasons:
        # The override speaks instead of the screening reasons (they stay listed: the verdict says why).
        counted = tuple(r for r in reasons if r is Reason.OVERRIDE_ALLOW or r in OVERRIDE_PROOF)
    for reason in counted:
        candidate = actions[reason]
        if SEVERITY[candidate] > worst:
            worst = SEVERITY[candidate]
            action = candidate
    reason_tuple = tuple(reasons)
    return Verdict(
        action=action,
        reasons=reason_tuple,
        input=facts.input,
        number=number,
        operators=tuple(views),
        data_version=facts.data_version,
        sip=policy.sip_mapping(action, reason_tuple, facts.data_version),
        error=facts.error,
        rules=applied,
    )


_SPEAKING: frozenset[RuleAction] = frozenset(
    {RuleAction.SUSPEND, RuleAction.CONTRACT, RuleAction.REFUSE, RuleAction.NOTE}
)


def _rules_in_force(rules: tuple[Rule, ...], today: date) -> tuple[Rule, ...]:
    """The rules that speak for a number on ``today``: every suspension, contract (who holds the
    number), refusal and note in force, and the one override that wins (`rules.winning_override`),
    last."""
    speaking = tuple(r for r in rules if r.action in _SPEAKING and r.in_force(today))
    override = winning_override(rules, today)
    return (*speaking, override) if override is not None else speaking


def _designation_reasons(facts: Facts, policy: CompiledPolicy, today: date, reasons: list[Reason]) -> None:
    """What the designation data says of a Japanese number, and only what it can say.

    No block in a range the data covers: never issued (spoofed), unless the data is older than
    ``max_age_days``: then only "not designated as of that date" is true, and MIC may have issued
    the block since (`block_not_designated_stale`, a flag by default: stale data is said as such,
    never turned into a block). No block in a range it does not cover: unknown. A block whose
    operator is not named is designated all the same.
    """
    block = facts.block
    as_of = facts.designations_as_of
    stale = as_of is not None and (today - as_of).days > policy.max_age_days
    if block is None:
        if as_of is None:
            reasons.append(Reason.DESIGNATION_UNKNOWN)
        else:
            reasons.append(Reason.BLOCK_NOT_DESIGNATED_STALE if stale else Reason.BLOCK_NOT_DESIGNATED)
    else:
        if not block.in_use:
            reasons.append(Reason.BLOCK_NOT_IN_USE)
        if facts.designated is None:
            reasons.append(Reason.DESIGNATED_OPERATOR_UNKNOWN)
    if stale:
        reasons.append(Reason.DESIGNATION_DATA_STALE)


def decide_anonymous(text: str, policy: CompiledPolicy, data_version: str = "") -> Verdict:
    """Verdict for a call that presents no number at all (Privacy: id, anonymous From, or a payphone:
    `numbers.no_number_kind` says which)."""
    reason = Reason.PAYPHONE if no_number_kind(text) == "payphone" else Reason.ANONYMOUS
    reasons = (reason,)
    action = policy.actions[reason]
    return Verdict(
        action=action,
        reasons=reasons,
        input=text,
        number=None,
        operators=(),
        data_version=data_version,
        sip=policy.sip_mapping(action, reasons, data_version),
    )
