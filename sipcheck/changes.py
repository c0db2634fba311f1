"""Audited changes: the one path by which every edge (CLI, HTTP) publishes a component and changes
suspensions and rules.

Why one path: a change and its audit record belong together: the live version before, the change,
then the record naming who, from where, the versions and the keys. Written once here, no edge can
change the data without leaving its record, or record it differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from sipcheck.audit import change_record, record_change, rules_record, suspension_record, wall_clock
from sipcheck.importers.suspensions import SuspensionChanges
from sipcheck.model import Contractor, Part, Rule
from sipcheck.rules import RuleError, rule_from_fields
from sipcheck.store import FactStore, RuleChange, live_operator_ids, live_rules, live_version


def check_rules(
    store: FactStore,
    items: Sequence[Mapping[str, object]],
    *,
    author: str,
    today: date,
    new_contractors: Iterable[str] = (),
) -> tuple[list[Rule], list[tuple[int, RuleError]]]:
    """Every item as a rule checked against the live data (its operators, its contractors and those
    registered in the same change), or every problem found with the item's position."""
    wanted = any("operator" in item or "via" in item for item in items)
    known = live_operator_ids(store) if wanted else frozenset()
    registered = set(live_rules(store).contractors) | set(new_contractors)
    created = wall_clock()
    rules: list[Rule] = []
    problems: list[tuple[int, RuleError]] = []
    for i, item in enumerate(items):
        try:
            rules.append(
                rule_from_fields(
                    item,
                    known_operators=known,
                    known_contractors=registered,
                    author=author,
                    created=created,
                    today=today,
                )
            )
        except RuleError as exc:
            problems.append((i, exc))
    return rules, problems


def change_rules(
    store: FactStore, add: Sequence[Rule | Contractor], remove: Sequence[str], *, who: str, origin: str
) -> RuleChange:
    """Apply a rule change (`FactStore.change_rules`) and record it; `RuleError` leaves both undone."""
    before = live_version(store)
    change = store.change_rules(add, remove)
    record = rules_record(
        add,
        change.removed,
        who=who,
        origin=origin,
        at=wall_clock(),
        before=before,
        after=change.data_version,
        total=change.total,
    )
    record_change(store, record)
    return change


def change_suspensions(
    store: FactStore, changes: SuspensionChanges, *, who: str, origin: str, sources: Sequence[str]
) -> tuple[int, int, str]:
    """Apply incremental suspension changes and record them: (added, removed, live data version)."""
    before = live_version(store)
    added = store.add_suspensions(changes.add) if changes.add else 0
    removed = store.remove_suspensions(changes.remove) if changes.remove else 0
    version = live_version(store)
    record = suspension_record(
        changes,
        added,
        removed,
        who=who,
        origin=origin,
        at=wall_clock(),
        before=before,
        after=version,
        sources=sources,
    )
    record_change(store, record)
    return added, removed, version


def publish_component(
    store: FactStore, part: Part, *, kind: str, who: str, origin: str, sources: Sequence[str]
) -> str:
    """Publish one whole component (a file load or upload of ``kind``) and record it; the new version."""
    before = live_version(store)
    version = store.publish({part.component: part})
    record = change_record(
        at=wall_clock(),
        who=who,
        origin=origin,
        kind=f"data.publish.{kind}",
        version_before=before,
        version_after=version,
        counts={"rows": len(part.records)},
        keys=[part.component.value],
        sources=sources,
    )
    record_change(store, record)
    return version
