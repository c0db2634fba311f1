"""Range and stock suspensions and overrides over HTTP (list, change all or nothing); the audit trail.

Every rule of a change is checked first (`rules.rule_from_fields`: a malformed range, an unknown
operator, an expiry in the past, a suspension without its reference); one bad item refuses the
whole change with 422 ``invalid_items`` listing each problem by position and field, and nothing is
written. The author is the token's name, never the token.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from sipcheck.api.admin import origin
from sipcheck.api.check import read_json
from sipcheck.api.context import Api
from sipcheck.api.errors import ApiError, json_response
from sipcheck.audit import select
from sipcheck.changes import change_rules as audited_change_rules
from sipcheck.changes import check_rules
from sipcheck.model import Component, Contractor, Rule
from sipcheck.rules import RuleError, contractor_from_fields, contractor_view
from sipcheck.store import RuleChange, StoreError, live_rules
from sipcheck.verdict import rule_dict

MAX_RULES_PER_CHANGE = 10_000
MAX_AUDIT_LIMIT = 10_000
JST = timezone(timedelta(hours=9))


def _live_rules(api: Api) -> tuple[list[Rule], str]:
    part = api.store.part(Component.RULES)
    rules = sorted((r for r in part.records if isinstance(r, Rule)), key=lambda r: r.id)
    return rules, api.store.status().data_version


async def list_rules(api: Api, request: web.Request) -> web.Response:
    api.auth.identify(request)
    try:
        rules, version = await asyncio.to_thread(_live_rules, api)
    except StoreError as exc:
        raise ApiError("store_unavailable", f"the data store did not answer: {exc}") from exc
    return json_response(
        {"rules": [rule_dict(r) for r in rules], "data_version": version}, headers={"X-Data-Version": version}
    )


def _change_request(body: Any) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
    if not isinstance(body, dict) or not set(body) <= {"add", "remove", "contractors"} or not body:
        raise ApiError(
            "bad_request",
            'expected a JSON object {"add": [rule, ...], "remove": [id, ...], "contractors": [...]}',
        )
    add, remove, contractors = body.get("add", []), body.get("remove", []), body.get("contractors", [])
    if not isinstance(contractors, list) or not all(isinstance(item, dict) for item in contractors):
        raise ApiError("bad_request", "'contractors' must be an array of contractor objects")
    if not isinstance(add, list) or not all(isinstance(item, dict) for item in add):
        raise ApiError("bad_request", "'add' must be an array of rule objects")
    if not isinstance(remove, list) or not all(isinstance(item, str) for item in remove):
        raise ApiError("bad_request", "'remove' must be an array of rule ids (strings)")
    if len(add) + len(remove) + len(contractors) > MAX_RULES_PER_CHANGE:
        raise ApiError("bad_request", f"more than {MAX_RULES_PER_CHANGE} items in one change")
    return add, remove, contractors


async def change_rules(api: Api, request: web.Request) -> web.Response:
    who = api.auth.identify(request)
    add, remove, contractor_items = _change_request(await read_json(request))
    today = api.screener.today()

    def apply() -> RuleChange:
        contractors, problems = _checked_contractors(contractor_items)
        rules, rule_problems = check_rules(
            api.store, add, author=who, today=today, new_contractors=(c.id for c in contractors)
        )
        problems += [_problem(f"add[{i}]", exc) for i, exc in rule_problems]
        if problems:
            raise ApiError(
                "invalid_items",
                f"{len(problems)} item(s) of the change are invalid; nothing was changed",
                problems,
            )
        return audited_change_rules(
            api.store, [*contractors, *rules], remove, who=who, origin=origin(request)
        )

    async with api.publish_lock:
        try:
            change = await asyncio.to_thread(apply)
        except RuleError as exc:  # a removal of an id that is not there
            detail = {
                "item": f"remove[{remove.index(str(exc.value))}]" if exc.value in remove else "remove",
                "field": exc.field,
                "value": exc.value,
                "message": exc.detail,
            }
            raise ApiError("invalid_items", f"{exc}; nothing was changed", [detail]) from exc
        except StoreError as exc:
            raise ApiError("store_unavailable", f"changing rules in the data store failed: {exc}") from exc
    api.metrics.count_change("rules", len(change.added) + len(change.removed))
    return json_response(
        {
            "added": list(change.added),
            "removed": list(change.removed),
            "total": change.total,
            "data_version": change.data_version,
        },
        headers={"X-Data-Version": change.data_version},
    )


def _checked_contractors(items: list[dict[str, Any]]) -> tuple[list[Contractor], list[dict[str, Any]]]:
    contractors: list[Contractor] = []
    problems: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        try:
            contractors.append(contractor_from_fields(item))
        except RuleError as exc:
            problems.append(_problem(f"contractors[{i}]", exc))
    return contractors, problems


def _problem(item: str, exc: RuleError) -> dict[str, Any]:
    return {"item": item, "field": exc.field, "value": _plain(exc.value), "message": exc.detail}


def _plain(value: object) -> object:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


async def read_audit(api: Api, request: web.Request) -> web.Response:
    """The audit trail, newest ``limit`` records since ``since``, filtered by kind and number."""
    api.auth.identify(request)
    query = request.query
    since = None
    if "since" in query:
        try:
            since = datetime.fromisoformat(query["since"])
        except ValueError:
            raise ApiError(
                "bad_request", f"since={query['since']!r} is not an ISO date or date-time"
            ) from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=JST)
    try:
        limit = int(query.get("limit", "1000"))
    except ValueError:
        raise ApiError("bad_request", f"limit={query['limit']!r} is not an integer") from None
    if not 1 <= limit <= MAX_AUDIT_LIMIT:
        raise ApiError("bad_request", f"limit must be 1..{MAX_AUDIT_LIMIT}")
    try:
        records = await asyncio.to_thread(api.store.read_audit, since, limit)
    except StoreError as exc:
        raise ApiError("store_unavailable", f"the data store did not answer: {exc}") from exc
    chosen = select(records, kind=query.get("kind") or None, number=query.get("number") or None)
    return json_response({"records": [r.to_dict() for r in chosen]})


async def show_contractor(api: Api, request: web.Request) -> web.Response:
    """Everything known about one contractor across operators (`rules.contractor_view`)."""
    api.auth.identify(request)
    contractor_id = request.match_info["id"]
    try:
        rules = await asyncio.to_thread(live_rules, api.store)
    except StoreError as exc:
        raise ApiError("store_unavailable", f"the data store did not answer: {exc}") from exc
    view = contractor_view(rules, contractor_id)
    if view is None:
        raise ApiError("not_found", f"no contractor {contractor_id!r} is registered")
    return json_response(view)
