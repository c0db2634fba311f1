"""Every knob of sipcheck, in one typed object.

Settings come from (lowest to highest precedence) the defaults below, a TOML
file (``--config FILE`` or ``SIPCHECK_CONFIG``), and environment variables
``SIPCHECK_<SECTION>__<FIELD>`` (for example ``SIPCHECK_REDIS__URL``). The
defaults are the safe ones for a call path: millisecond timeouts, no retry
storms, loopback-only listeners.

Each package reads its own section; nothing else defines a default for the
same thing. Add a field here, not a module-level constant elsewhere.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sipcheck.ingress import IngressMap
from sipcheck.kamailio.settings import KamailioSettings
from sipcheck.policy import DEFAULT_MAX_AGE_DAYS, CompiledPolicy, PolicyConfig
from sipcheck.screener import utc_now


def default_data_dir() -> Path:
    """Per-user data directory (XDG), where the embedded Redis keeps its data."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sipcheck"


class RedisSettings(BaseModel):
    """Where the shared data lives and how hard a call path may wait for it."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    url: str | None = Field(
        default=None,
        description="redis:// or unix:// URL; unset starts an embedded private Redis on loopback",
    )
    sentinels: list[str] = Field(default_factory=list, description="host:port of Sentinels; enables Sentinel")
    sentinel_service: str = "sipcheck"
    key_prefix: str = "sipcheck"
    connect_timeout_ms: float = 50.0
    command_timeout_ms: float = 20.0
    check_budget_ms: float = 50.0
    """Overall time budget for one check's data lookup, retries included."""
    retries: int = 0
    pool_size: int = 64
    breaker_failures: int = 5
    breaker_reset_ms: float = 1000.0
    local_snapshot: bool = True
    """Keep blocks/operators in process memory; ask Redis only for suspensions."""
    local_reads: bool = True
    """With the snapshot, answer checks from process memory (no round trip) while it is provably in step with
    Redis: suspension changes arrive as pub/sub deltas, and Redis is heard from every sync_timeout_ms.
    Off: every check asks Redis for the suspension. Needs at most snapshot_suspensions_max suspensions."""
    sync_timeout_ms: float = Field(default=1000.0, gt=0)
    """Local reads stop when Redis was not heard from for this long; checks then ask Redis (and meet the
    fail policy if it is gone)."""
    embedded_server: str | None = Field(
        default=None, description="path of the redis-server binary for the embedded Redis; unset picks one"
    )
    embedded_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="loopback port of the embedded Redis (for firewall rules); unset picks a free one",
    )
    gc_grace_ms: float = 30_000.0
    """How long keys only an old data version uses stay readable after a publish (slow readers finish)."""
    lock_wait_ms: float = Field(default=30_000.0, gt=0)
    """How long a load or a rule change waits for another one's publish lock before it fails (nothing
    written): an administrator's call gets an answer instead of hanging behind a long load."""
    audit_retention_days: int = Field(default=400, ge=1)
    """Days the audit trail (the ``{p}:audit`` stream) keeps a change record: over a year, so a police or
    JUSA inquiry about last year's suspensions still finds who made them."""
    snapshot_suspensions_max: int = 200_000
    """The local snapshot also copies suspensions (for the snapshot fail policy) up to this many."""
    warm_connections: int = 64
    """Connections `RedisStore.awarm()` opens at start-up (avoids a burst of connects in checks)."""
    batch_max: int = Field(default=256, ge=1)
    """Async checks queued in one event-loop iteration go to Redis as one script call of at most this many."""
    batch_inflight: int = Field(default=1, ge=1)
    """Batches one event loop keeps in flight; checks queued meanwhile go in the next (bigger) batch."""
    breaker_min_span_ms: float = 250.0
    """A failure streak must also last this long to open the breaker: a stalled process sees many calls
    fail at once, which says nothing about Redis; a dead Redis keeps failing."""


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    batch_limit: int = 1000
    max_body_bytes: int = 32 * 1024 * 1024
    tokens: dict[str, str] = Field(
        default_factory=dict, description="name -> bearer token for the administration endpoints"
    )
    tokens_file: Path | None = Field(
        default=None, description="file of 'name token' lines (or name=token), merged with `tokens`"
    )
    shutdown_timeout_s: float = Field(
        default=10.0, description="how long a stopping worker waits for requests in flight"
    )
    access_log: bool = Field(default=False, description="one JSON log line per request (costs throughput)")
    max_connections: int = Field(
        default=10_000,
        ge=1,
        description="open connections per worker (capped by the descriptor limit); beyond it a new "
        "connection replaces the one idle the longest",
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="a connection must send its request headers within this (slowloris)"
    )
    keepalive_timeout_s: float = Field(
        default=30.0, gt=0, description="an idle keep-alive connection is closed after this"
    )


class SipSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    listen_host: str = "127.0.0.1"
    listen_port: int = 5070
    transports: list[Literal["udp", "tcp"]] = Field(default=["udp"])
    trusted_peers: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    next_hop: str | None = None
    tone_profile: str = "example-call-start"
    strict_syntax: bool = True
    """Refuse a request that breaks RFC 3261's syntax (the RFC 4475 invalid messages: 400, 416, 505 with
    a Warning saying what is wrong) before answering or relaying it; false = as lenient as pjsip."""
    codecs: list[str] = Field(default_factory=lambda: ["PCMU/8000", "PCMA/8000"])
    agents: int = 1
    max_calls: int = Field(
        default=2,
        ge=1,
        le=2,
        description="relayed calls one agent process holds at once: the pjsua2 wheel has 4 call slots, "
        "a relayed call takes two; more INVITEs get 503 + Retry-After from the front",
    )
    max_cps: float = Field(
        default=10.0,
        gt=0,
        le=20,
        description="new INVITEs per second one agent admits; beyond, 503 + Retry-After. At most 20: each "
        "call opens RTP/RTCP sockets whose slots in pjsip's 64-handle select() queue are freed only "
        "0.5 s after close, and an exhausted queue aborts the process",
    )
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After (seconds) on the agent's 503")
    rtp_port: int = Field(
        default=20000,
        ge=0,
        description="first RTP port of agent 0; agent i starts at rtp_port + i * rtp_port_range",
    )
    rtp_port_range: int = Field(default=200, ge=0, description="RTP ports per agent process")
    private_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="pjsip's loopback UDP port behind agent 0's front (agent i: private_port + i); it "
        "also sends the relayed legs, so the next hop's ACK/BYE come back to it. Unset: a free port",
    )
    log_level: int = Field(default=1, ge=0, le=6, description="pjsip log level (0 silent … 6 very verbose)")
    peer_trunks: dict[str, str] = Field(
        default_factory=dict,
        description="trusted peer address (IP, or IP:port) -> trunk id screened as the ingress "
        "(the trunks data component names the operator behind each trunk id); unmapped peers "
        "are screened with their IP as the ingress",
    )


MIC_DESIGNATION_PAGE = "https://www.soumu.go.jp/main_sosiki/joho_tsusin/top/tel_number/number_shitei.html"


class DataSettings(BaseModel):
    """Where the designation data comes from and how old it may grow."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    max_age_days: int = Field(default=DEFAULT_MAX_AGE_DAYS, ge=1)
    """Designation data of a range older than this is stale: `data status` warns, /readyz and /metrics say
    so, and verdicts on numbers of that range carry designation_data_stale (informational, allow).
    MIC updates its files monthly."""
    update_url: str = MIC_DESIGNATION_PAGE
    """MIC's designation page (電気通信番号指定状況, Shift_JIS HTML) that `sipcheck data update` reads."""
    update_timeout_s: float = Field(default=60.0, gt=0)
    """Per-request timeout of `sipcheck data update` (the page and each file)."""
    update_max_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    """Largest page or file `sipcheck data update` downloads; a bigger one is refused."""


class DecisionLogSettings(BaseModel):
    """The optional decision log: one JSON line per screened call (`sipcheck.decisionlog`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    dir: Path | None = None
    """Directory of the decision logs (one file per process: decisions-http-0.jsonl, decisions-sip.jsonl);
    unset: no decision log."""
    max_bytes: int = Field(default=100_000_000, ge=4096)
    """A file is rotated (renamed .1, .2, …) when it would pass this size."""
    backups: int = Field(default=10, ge=0)
    """Rotated files kept per process."""
    queue_max: int = Field(default=100_000, ge=1)
    """Records waiting for the writer thread; past this they are dropped and counted, not the call delayed."""


class Settings(BaseSettings):
    """The one settings object; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(env_prefix="SIPCHECK_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    sip: SipSettings = Field(default_factory=SipSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    decisions: DecisionLogSettings = Field(default_factory=DecisionLogSettings)
    kamailio: KamailioSettings = Field(default_factory=KamailioSettings)
    fixed_now: AwareDatetime | None = Field(
        default=None,
        description="screen as if it were this moment (ISO 8601 with offset) at every edge: reproducing a "
        "past verdict, tests; unset = the system clock",
    )

    def clock(self) -> Callable[[], datetime]:
        """The clock every edge screens with: the system clock, or ``fixed_now``."""
        fixed = self.fixed_now
        if fixed is None:
            return utc_now
        return lambda: fixed

    def ingress_map(self) -> IngressMap:
        """The one peer → trunk mapping every edge screens with (`sipcheck.ingress`)."""
        return IngressMap(dict(self.sip.peer_trunks))

    def compiled_policy(self) -> CompiledPolicy:
        """The policy every edge decides with: ``policy`` and the data age limit of ``data``."""
        return self.policy.compile(self.data.max_age_days)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats init (the file's values are passed as init kwargs).
        return (env_settings, init_settings)


def load_settings(config_file: str | Path | None = None) -> Settings:
    """Read settings from a TOML file (if any) and the environment."""
    path = config_file or os.environ.get("SIPCHECK_CONFIG")
    values: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    return Settings(**values)


_config_file: str | None = None


def use_config_file(path: str) -> None:
    """Make `get_settings()` read this file (the CLI's --config)."""
    global _config_file
    _config_file = path
    get_settings.cache_clear()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings(_config_file)
