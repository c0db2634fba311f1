"""What a store knows about one call: the facts the policy decides on.

A store (memory, Redis, the batch tables) gathers these; `sipcheck.policy.decide`
turns them into a verdict. Nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sipcheck.model import Block, Certification, ResolvedOperator, Rule, Suspension
from sipcheck.numbers import InvalidNumber, PhoneNumber


class Role(StrEnum):
    """Where an operator stands in the chain of a call."""

    DESIGNATED = "designated"  # MIC designated the number's block to it
    SERVING = "serving"  # it serves the number (wholesale), when not the designated one
    INGRESS = "ingress"  # it handed the call to us


@dataclass(frozen=True, slots=True)
class OperatorFacts:
    role: Role
    id: str  # '' when the reference matched no known operator
    name: str
    certification: Certification | None

    @classmethod
    def of(cls, role: Role, operator: ResolvedOperator) -> OperatorFacts:
        return cls(role, operator.id, operator.name, operator.certification)


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything known about a call's calling number, and where it came from.

    ``available`` is False when the data could not be read (Redis down) or the store holds no
    complete data set (nothing loaded, or a required component missing): the policy then
    applies the configured fail policy. ``from_snapshot`` says the facts came from a
    process-local copy rather than the shared store.

    ``block`` is the designated block, None if there is no record of one; whether that means
    "never issued" depends on ``designations_as_of``: the as-of date of the loaded designation
    data for the number's range, None when the data does not cover the range (then the
    absence of a block says nothing). ``designated`` is None when the block's operator is
    not known. ``rules`` lists every rule that covers the number, in force or not: whether one is
    in force on the day is the policy's to say.
    """

    input: str
    number: PhoneNumber | None
    error: InvalidNumber | None = None
    block: Block | None = None
    designated: OperatorFacts | None = None
    serving: OperatorFacts | None = None
    ingress_peer: str | None = None
    ingress: OperatorFacts | None = None
    suspension: Suspension | None = None
    data_version: str = ""
    available: bool = True
    from_snapshot: bool = False
    designations_as_of: date | None = None
    rules: tuple[Rule, ...] = ()  # range/stock suspensions and overrides covering the number (`rules.py`)

    @classmethod
    def invalid(cls, text: str, error: InvalidNumber, data_version: str = "") -> Facts:
        return cls(input=text, number=None, error=error, data_version=data_version)

    @classmethod
    def unavailable(
        cls, text: str, number: PhoneNumber, ingress_peer: str | None, data_version: str = ""
    ) -> Facts:
        return cls(
            input=text, number=number, ingress_peer=ingress_peer, data_version=data_version, available=False
        )

    def operators(self) -> tuple[OperatorFacts, ...]:
        return tuple(op for op in (self.designated, self.serving, self.ingress) if op is not None)
