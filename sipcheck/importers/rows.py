"""The row models of every list format: one pydantic model per kind of row.

These are the documented schemas (`json_schema`), and the validators for the
small lists. The million-row suspension feed is validated by a hand-written
fast path in `sipcheck.importers.suspensions` that enforces the same rules as
`SuspensionRow` (a test holds the two together).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from sipcheck.importers.corporate_number import validate_corporate_number
from sipcheck.importers.values import japanese_e164, parse_since

ID_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]*$"
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """Only ISO calendar dates: pydantic's lax mode would also take Unix timestamps."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value)
    raise ValueError("expected an ISO date YYYY-MM-DD")


def _split_aliases(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    return value


def _since(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_since(value)
    raise ValueError("expected an ISO 8601 date or date-time string")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
CorporateNumber = Annotated[
    str,
    AfterValidator(validate_corporate_number),
    Field(description="法人番号: 13 digits, the first a check digit (validated)", examples=["7000012050002"]),
]
OperatorId = Annotated[str, Field(pattern=ID_PATTERN, description="our stable operator id")]
Text = Annotated[str, Field(min_length=1)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ListStatus(StrEnum):
    """Statuses a certified-operator list may state (``uncertified`` means: not on the list)."""

    CERTIFIED = "certified"
    PROVISIONAL = "provisional"
    EXPIRED = "expired"
    REVOKED = "revoked"


class OperatorRow(_Row):
    """One operator: our id, its legal name, other names lists use for it, its corporate number."""

    model_config = ConfigDict(title="Operator")
    id: OperatorId
    name: Text = Field(description="legal name, e.g. as MIC writes it (ＫＤＤＩ株式会社)")
    aliases: Annotated[list[Text], BeforeValidator(_split_aliases)] = Field(
        default_factory=list, description="other names; in CSV one cell separated by |"
    )
    corporate_number: CorporateNumber | None = None


class CertificationRow(_Row):
    """One entry of the certified-operator list (ETOC); one entry per operator."""

    model_config = ConfigDict(title="Certification")
    operator_id: OperatorId | None = Field(default=None, description="our stable id, if the list carries it")
    name: Text = Field(description="legal name of the operator")
    corporate_number: CorporateNumber | None = None
    status: ListStatus
    valid_from: IsoDate | None = Field(default=None, description="first day in force (JST)")
    valid_until: IsoDate | None = Field(default=None, description="last day in force (JST); ≥ valid_from")
    round: Text | None = Field(default=None, description="certification round, e.g. 2026-02")


class SuspensionRow(_Row):
    """A suspended number in a full snapshot of the suspension feed."""

    model_config = ConfigDict(title="Suspension")
    number: Annotated[Text, AfterValidator(japanese_e164)] = Field(
        description="a valid Japanese number in any common shape; stored as E.164"
    )
    since: Annotated[datetime, BeforeValidator(_since)] | None = Field(
        default=None, description="ISO 8601 date or date-time; without an offset it is JST"
    )
    reference: str | None = Field(default=None, description="the request's reference, if any")
    source: str | None = Field(default=None, description="who asked for the suspension, if stated")


class SuspensionChangeRow(SuspensionRow):
    """An incremental change to the suspension list: add (with details) or remove a number."""

    model_config = ConfigDict(title="SuspensionChange")
    op: Literal["add", "remove"]


class TrunkRow(_Row):
    """An ingress peer (trunk id or address as the SIP edge names it) and the operator behind it."""

    model_config = ConfigDict(title="Trunk")
    peer: str = Field(pattern=r"^\S+$", description="trunk id or address, no spaces")
    operator: Text = Field(description="operator reference: id, legal name, alias or corporate number")


class WholesaleRow(_Row):
    """Numbers handed on to a serving operator: exactly one of ``prefix`` or ``range``."""

    model_config = ConfigDict(title="Wholesale")
    prefix: str | None = Field(default=None, pattern=r"^0[0-9]+$", description="national prefix")
    range: str | None = Field(
        default=None,
        pattern=r"^0[0-9]+-0[0-9]+$",
        description="start-end, two national numbers of one length; expanded to the fewest prefixes",
    )
    operator: Text = Field(description="serving operator reference")


class MicBlockRow(_Row):
    """One block in the processed MIC CSV of earlier versions (block_prefix, range, operator, in_use).

    The file covers every range it has a row for: a block of such a range with no row, or a row
    whose in_use says 未使用/使用不可, was not designated.
    """

    model_config = ConfigDict(title="MicBlock")
    block_prefix: str = Field(pattern=r"^0[0-9]{5,8}$", description="national block prefix")
    range: str = Field(pattern=r"^0[0-9]{1,3}$", description="range key: 050, 0120, …; 01-09 for fixed")
    operator_name_as_published: str = Field(
        default="", description="designated operator exactly as MIC writes it; empty = not known"
    )
    in_use: str = Field(
        default="使用中",
        description="MIC's 使用状況: 使用中 (or true), 使用予定 (planned), 未使用 (or false), 使用不可",
    )


class MicDesignationRow(_Row):
    """One designated block in the consolidated designation CSV shipped in sipcheck/data.

    The file covers every range it has a row for (``fixed`` covers all fixed-line ranges):
    a block of such a range with no row was not designated on ``designated_as_of``.
    """

    model_config = ConfigDict(title="MicDesignation")
    block: str = Field(pattern=r"^0[0-9]{5,8}$", description="the MIC designation key, leading 0 included")
    range: str = Field(
        pattern=r"^(fixed|0[0-9]{2,3})$", description="fixed, 050, 060 … 0200, 0120, 0800, 0570"
    )
    operator: str = Field(
        default="", description="designated operator as the source wrote it; empty = not known"
    )
    designated_as_of: IsoDate = Field(description="the date the block was seen designated")
    operator_as_of: IsoDate | None = Field(default=None, description="the date of the operator attribution")
    source: str = Field(default="", description="source tags (see the data README)")
