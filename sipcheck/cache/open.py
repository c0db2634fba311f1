"""`open_store(settings)`: the one way an edge (CLI, API, SIP agent) gets its `FactStore`.

With ``redis.url`` or ``redis.sentinels`` it connects; otherwise it uses the
per-user embedded Redis under ``data_dir/redis`` (started, or reused if another
sipcheck process already runs it), loads the sample data into an empty store,
and on exit closes the store and stops the server if no other process uses it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

from sipcheck.cache.embedded import SharedEmbedded
from sipcheck.cache.store import RedisStore
from sipcheck.model import Component, Part
from sipcheck.settings import Settings, get_settings
from sipcheck.store import FactStore


def _sample_parts() -> dict[Component, Part] | None:
    """The bundled sample data set, if the sample module is installed."""
    try:
        module = importlib.import_module("sipcheck.sample")
    except ModuleNotFoundError as exc:
        if exc.name == "sipcheck.sample":
            return None
        raise
    parts: dict[Component, Part] = module.sample_parts()
    return parts


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
    shared = SharedEmbedded(cfg.data_dir / "redis", binary=redis_cfg.embedded_server)
    url = shared.acquire()
    try:
        store = RedisStore(redis_cfg, url=url, fail_policy=fail_policy)
        try:
            if not store.status().data_version:
                parts = _sample_parts()
                if parts:
                    store.publish(parts)
            yield store
        finally:
            store.close()
    finally:
        shared.release()
