"""Writing and reading whole data versions (the admin side; never on the call path).

A publish writes every given component under a fresh version number, copies
the manifest of the live version for the components it does not replace,
re-resolves operator references when anything they depend on changed, and
then — in one MULTI/EXEC — makes the new keys permanent and switches the
``live`` pointer. A reader's Lua script reads the pointer and the data in one
atomic step, so it sees one version or the other, never a mix. Keys only the
old version used get a TTL (the grace period) so slower multi-step readers
(`part`, snapshot refreshes) that started on the old version can finish.

New keys carry a TTL while they are written, so a load that dies half-way
leaves nothing behind for long.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import redis

from sipcheck.cache import codec
from sipcheck.cache.keys import KeySpace
from sipcheck.cache.scripts import SWITCH, UNLOCK
from sipcheck.model import (
    Block,
    Certification,
    Component,
    Operator,
    OperatorIndex,
    Part,
    Record,
    Trunk,
    Wholesale,
)
from sipcheck.store import StoreError

STATIC_COMPONENTS = tuple(c for c in Component if c not in (Component.SUSPENSIONS, Component.RULES))
"""What operator references and local snapshots' ``static`` version depend on. Suspensions and rules
change on their own (police requests, overrides), and a change to them must not make every process
re-read 30,000 blocks."""
BUILD_TTL_MS = 3_600_000  # an unfinished load's keys vanish after an hour
LOCK_TTL_MS = 600_000
LOCK_WAIT_S = 120.0
CHUNK_FIELDS = 1_000  # fields per HSET: amortises the round trip yet blocks Redis for well under 1 ms
CHUNKS_PER_ROUND_TRIP = 4

Manifest = dict[str, str]


def live_manifest(client: redis.Redis, keys: KeySpace) -> tuple[str, Manifest]:
    """The live version and its manifest ('' and {} when nothing was ever published)."""
    version = client.get(keys.live)
    if not version:
        return "", {}
    manifest = cast(Manifest, client.hgetall(keys.manifest(str(version))))
    return str(version), manifest


SCAN_FIELDS = 2_000
"""Fields per HSCAN when a process reads a whole component: each call holds Redis (single-threaded)
for its duration while every process reloads at once after a publish; 2,000 fields is ~1 ms, and the
calls a check waits behind stay well inside its budget."""


def read_fields(client: redis.Redis, key: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for field, value in client.hscan_iter(key, count=SCAN_FIELDS):
        fields[field] = value
    return fields


def read_part(client: redis.Redis, keys: KeySpace, manifest: Manifest, component: Component) -> Part:
    version = manifest.get(component.value)
    meta = codec.decode_meta(component, manifest.get(component.value + ".meta"))
    if not version:
        return meta
    fields = read_fields(client, keys.component(component, version))
    return replace(meta, records=codec.decode_records(component, fields))


def _chunks(items: Iterable[tuple[str, str]], size: int) -> Iterator[dict[str, str]]:
    chunk: dict[str, str] = {}
    for k, v in items:
        chunk[k] = v
        if len(chunk) >= size:
            yield chunk
            chunk = {}
    if chunk:
        yield chunk


def write_hash(client: redis.Redis, key: str, fields: Mapping[str, str], ttl_ms: int) -> None:
    """Write a (possibly huge) hash in pipelined chunks; the key carries ``ttl_ms`` until published."""
    pipe = client.pipeline(transaction=False)
    pipe.delete(key)
    queued = 0
    for chunk in _chunks(fields.items(), CHUNK_FIELDS):
        pipe.hset(key, mapping=chunk)  # type: ignore[arg-type]
        pipe.pexpire(key, ttl_ms)
        queued += 1
        if queued >= CHUNKS_PER_ROUND_TRIP:
            pipe.execute()
            queued = 0
    pipe.execute()


def operator_refs(records: Mapping[Component, tuple[Record, ...]]) -> set[str]:
    """Every operator reference blocks, wholesale and trunks use (what the Lua script must resolve)."""
    refs: set[str] = set()
    for record in records.get(Component.BLOCKS, ()):
        if isinstance(record, Block):
            refs.add(record.operator)
    for record in records.get(Component.WHOLESALE, ()):
        if isinstance(record, Wholesale | Trunk):
            refs.add(record.operator)
    for record in records.get(Component.TRUNKS, ()):
        if isinstance(record, Trunk | Wholesale):
            refs.add(record.operator)
    return refs


def resolve(records: Mapping[Component, tuple[Record, ...]]) -> tuple[dict[str, str], dict[str, str]]:
    """The ``refs`` (reference -> operator id) and ``ops`` (id -> resolved JSON) hashes of a version.

    Resolution is `OperatorIndex`'s, done once here in Python, so the script
    needs no name normalisation and cannot disagree with `TableSet`.
    """
    index = OperatorIndex(
        (r for r in records.get(Component.OPERATORS, ()) if isinstance(r, Operator)),
        (r for r in records.get(Component.CERTIFICATIONS, ()) if isinstance(r, Certification)),
    )
    refs: dict[str, str] = {}
    for ref in operator_refs(records):
        op_id = index.resolve_id(ref)
        if op_id is not None:
            refs[ref] = op_id
    ops = {op_id: codec.encode_resolved(op) for op_id, op in index.operators.items()}
    return refs, ops


class PublishLock:
    """One load at a time. A change waits for another's lock at most ``wait_s``
    (`RedisSettings.lock_wait_ms`), then fails naming the lock: an administrator's call is answered,
    not left hanging behind a long load, and nothing of it was written."""

    def __init__(self, client: redis.Redis, keys: KeySpace, wait_s: float = LOCK_WAIT_S) -> None:
        self.client = client
        self.keys = keys
        self.wait_s = wait_s
        self.token = uuid.uuid4().hex

    def __enter__(self) -> PublishLock:
        deadline = time.monotonic() + self.wait_s
        while not self.client.set(self.keys.lock, self.token, nx=True, px=LOCK_TTL_MS):
            if time.monotonic() > deadline:
                raise StoreError(
                    f"another load has held {self.keys.lock} for over {self.wait_s:g} s "
                    "(redis.lock_wait_ms); nothing was changed, try again"
                )
            time.sleep(0.05)  # another process's load; it signals nothing we could await
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.eval(UNLOCK, 1, self.keys.lock, self.token)


def publish(
    client: redis.Redis,
    keys: KeySpace,
    parts: Mapping[Component, Part],
    grace_ms: float,
    now: datetime | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> str:
    """Write ``parts`` as a new version, switch the live pointer to it, expire what only the old one used."""
    moment = now or datetime.now(UTC)
    for component, part in parts.items():
        if part.component is not component:
            raise StoreError(f"part for {component.value} says it is {part.component.value}")
    encoded = {c: codec.encode_records(c, p.records) for c, p in parts.items()}
    with PublishLock(client, keys, lock_wait_s):
        if Component.SUSPENSIONS in parts:
            # From here on, incremental changes are logged too, to be replayed onto the new list.
            client.delete(keys.suspbuild_log)
            client.set(keys.suspbuild, "1", px=BUILD_TTL_MS)
        try:
            return _publish_locked(client, keys, parts, encoded, grace_ms, moment)
        except BaseException:
            if Component.SUSPENSIONS in parts:
                with contextlib.suppress(redis.RedisError):
                    client.delete(keys.suspbuild, keys.suspbuild_log)
            raise


def change_rules(
    client: redis.Redis,
    keys: KeySpace,
    change: Callable[[Part], Part],
    grace_ms: float,
    now: datetime | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> tuple[str, Part]:
    """Publish ``change(live rules part)`` as the new rules, reading and writing under the publish
    lock: two changes made at once are both kept (neither reads the rules before the other wrote)."""
    moment = now or datetime.now(UTC)
    with PublishLock(client, keys, lock_wait_s):
        _version, manifest = live_manifest(client, keys)
        new = change(read_part(client, keys, manifest, Component.RULES))
        encoded = {Component.RULES: codec.encode_records(Component.RULES, new.records)}
        return _publish_locked(client, keys, {Component.RULES: new}, encoded, grace_ms, moment), new


def _publish_locked(
    client: redis.Redis,
    keys: KeySpace,
    parts: Mapping[Component, Part],
    encoded: Mapping[Component, Mapping[str, str]],
    grace_ms: float,
    moment: datetime,
) -> str:
    old_version, old = live_manifest(client, keys)
    version = str(client.incr(keys.seq))
    manifest: Manifest = dict(old)
    manifest["data_version"] = version
    new_keys: list[str] = []
    for component, part in parts.items():
        key = keys.component(component, version)
        write_hash(client, key, encoded[component], BUILD_TTL_MS)
        new_keys.append(key)
        stamped = part if part.loaded_at else replace(part, loaded_at=moment)
        manifest[component.value] = version
        manifest[component.value + ".meta"] = codec.encode_meta(stamped, len(encoded[component]))
        if component is Component.WHOLESALE:
            lengths = sorted({len(p) for p in encoded[component]}, reverse=True)
            manifest["wlens"] = ",".join(str(n) for n in lengths)
        if component is Component.BLOCKS:
            manifest["coverage"] = codec.encode_coverage_field(part)
    if any(c in STATIC_COMPONENTS for c in parts) or "static" not in old:
        records: dict[Component, tuple[Record, ...]] = {}
        for component in STATIC_COMPONENTS:
            if component in parts:
                records[component] = parts[component].records
            else:
                records[component] = read_part(client, keys, old, component).records
        refs, ops = resolve(records)
        write_hash(client, keys.refs(version), refs, BUILD_TTL_MS)
        write_hash(client, keys.ops(version), ops, BUILD_TTL_MS)
        new_keys += [keys.refs(version), keys.ops(version)]
        manifest["static"] = version
    client.hset(keys.manifest(version), mapping=manifest)  # type: ignore[arg-type]
    new_keys.append(keys.manifest(version))
    building = keys.component(Component.SUSPENSIONS, version) if Component.SUSPENSIONS in parts else ""
    client.eval(
        SWITCH,
        4,
        keys.live,
        keys.suspbuild,
        keys.suspbuild_log,
        building,
        version,
        keys.events,
        *new_keys,
    )
    if old_version:
        _expire(client, _garbage(keys, old_version, old, manifest), grace_ms)
    return version


def _garbage(keys: KeySpace, old_version: str, old: Manifest, new: Manifest) -> list[str]:
    garbage = [keys.manifest(old_version)]
    for component in Component:
        before = old.get(component.value)
        if before and before != new.get(component.value):
            garbage.append(keys.component(component, before))
    if old.get("static") and old["static"] != new.get("static"):
        garbage += [keys.refs(old["static"]), keys.ops(old["static"])]
    return garbage


def _expire(client: redis.Redis, garbage: list[str], grace_ms: float) -> None:
    pipe = client.pipeline(transaction=False)
    for key in garbage:
        if grace_ms <= 0:
            pipe.unlink(key)
        else:
            pipe.pexpire(key, int(grace_ms))
    pipe.execute()


def manifest_summary(manifest: Manifest) -> dict[str, Any]:
    """Component versions of a manifest, for logs and status."""
    return {c.value: manifest.get(c.value, "") for c in Component}
