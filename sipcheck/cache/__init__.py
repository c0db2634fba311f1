"""The Redis cache: the only package that talks to Redis (see docs/cache.md for the design).

- `RedisStore`: the shared `FactStore` (versioned data sets, one round trip per check, fail policy).
- `EmbeddedRedis`: a private redis-server on a free loopback port (the default, and the test fixture).
- `open_store(settings)`: connect or start the embedded server; a context manager yielding the store.
- `CacheMetrics`: counters for the metrics exporter (``store.metrics``).
"""

from sipcheck.cache.breaker import BreakerState, CacheMetrics, CircuitBreaker
from sipcheck.cache.embedded import EmbeddedRedis, SharedEmbedded, find_redis_server
from sipcheck.cache.open import open_store
from sipcheck.cache.store import RedisStore

__all__ = [
    "BreakerState",
    "CacheMetrics",
    "CircuitBreaker",
    "EmbeddedRedis",
    "RedisStore",
    "SharedEmbedded",
    "find_redis_server",
    "open_store",
]
