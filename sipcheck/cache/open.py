"""`open_store(settings)`: the one way an edge (CLI, API, SIP agent) gets its `FactStore`.

With ``redis.url`` or ``redis.sentinels`` it connects; otherwise it uses the
per-user embedded Redis under ``data_dir/redis`` (started, or reused if another
sipcheck process already runs it), loads the built-in data into an empty store (or
over an earlier version of the built-in data), and on exit closes the store and
stops the server if no other process uses it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator
from types import ModuleType

from sipcheck.cache.embedded import SharedEmbedded
from sipcheck.cache.store import RedisStore
from sipcheck.model import Component, Part
from sipcheck.settings import Settings, get_settings
from sipcheck.store import FactStore

_log = logging.getLogger("sipcheck")


def _builtin() -> ModuleType | None:
    """The built-in data module, if installed."""
    try:
        return importlib.import_module("sipcheck.sample")
    except ModuleNotFoundError as exc:
        if exc.name == "sipcheck.sample":
            return None
        raise


def _seed(store: RedisStore) -> None:
    """Load the built-in data into an empty embedded store, or over an earlier version of it.

    Only the embedded store is seeded: a configured Redis is a deployment's, and an empty one must
    answer by the fail policy until its operator loads real data (never with demo verdicts).
    """
    module = _builtin()
    if module is None:
        return
    status = store.status()
    if status.data_version:
        sources = {c.component: c.sources for c in status.components}
        if not module.outdated_builtin(sources):
            return
        _log.warning("replacing an earlier version of the built-in data in the embedded store")
    parts: dict[Component, Part] = module.sample_parts()
    store.publish(parts)


@contextlib.contextmanager
def open_store(settings: Settings | None = None) -> Iterator[FactStore]:
    cfg = settings or get_settings()
    redis_cfg = cfg.redis
    fail_policy = cfg.policy.fail_policy
    if redis_cfg.url or redis_cfg.sentinels:
        store = RedisStore(redis_cfg, fail_policy=fail_policy)
        try:
            yield store
        finally:
            store.close()
        return
    shared = SharedEmbedded(
        cfg.data_dir / "redis", binary=redis_cfg.embedded_server, port=redis_cfg.embedded_port
    )
    url = shared.acquire()
    try:
        store = RedisStore(redis_cfg, url=url, fail_policy=fail_policy)
        try:
            _seed(store)
            yield store
        finally:
            store.close()
    finally:
        shared.release()
