"""The Redis key layout, in one place (documented for routing engines in docs/cache.md).

Every key starts with ``{<key_prefix>}:`` — the braces are a Redis Cluster hash
tag, so all keys of a deployment live in one slot and one Lua script may read
the live pointer, the manifest and the data of a version together.

    {p}:live                      string  the live data version N (the one pointer a publish switches)
    {p}:seq                       string  INCR counter that hands out versions
    {p}:lock                      string  publish lock (SET NX PX), so two loads never interleave
    {p}:events                    channel pub/sub: "publish N", and "suspensions N SEQ OP" + delta
    {p}:suspseq                   string  INCR counter numbering incremental suspension changes
    {p}:suspbuild                 string  set while a full suspension list is being written (TTL)
    {p}:suspbuild:log             list    the incremental changes made meanwhile, replayed onto the new
                                          list in the same script that switches the live pointer
    {p}:audit                     stream  the audit trail: one entry per data change (`cache/audit.py`)
    {p}:manifest:N                hash    component -> component version; <component>.meta -> JSON;
                                          static -> version of refs/ops; wlens -> "7,6" (wholesale lengths);
                                          coverage -> "03=2026-07-04,050=…" (the ranges blocks cover)
    {p}:blocks:V                  hash    national prefix -> kind US in_use US operator ref ('' = unnamed)
    {p}:operators:V               hash    operator id -> JSON
    {p}:certifications:V          hash    list position -> JSON
    {p}:wholesale:V               hash    national prefix -> operator reference
    {p}:trunks:V                  hash    ingress peer -> operator reference
    {p}:suspensions:V             hash    E.164 -> "" or JSON [since, reference, source]
    {p}:rules:V                   hash    rule id -> JSON (range/stock suspensions, overrides: `rules.py`)
    {p}:refs:S                    hash    operator reference (as blocks/wholesale/trunks write it) -> id
    {p}:ops:S                     hash    operator id -> JSON {id, name, cert}
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcheck.model import Component


@dataclass(frozen=True, slots=True)
class KeySpace:
    prefix: str  # already carries the hash tag, e.g. "{sipcheck}"

    @classmethod
    def of(cls, key_prefix: str) -> KeySpace:
        if key_prefix.startswith("{") and key_prefix.endswith("}"):
            return cls(key_prefix)
        return cls("{" + key_prefix + "}")

    @property
    def live(self) -> str:
        return f"{self.prefix}:live"

    @property
    def seq(self) -> str:
        return f"{self.prefix}:seq"

    @property
    def lock(self) -> str:
        return f"{self.prefix}:lock"

    @property
    def events(self) -> str:
        return f"{self.prefix}:events"

    @property
    def suspseq(self) -> str:
        return f"{self.prefix}:suspseq"

    @property
    def audit(self) -> str:
        return f"{self.prefix}:audit"

    @property
    def suspbuild(self) -> str:
        return f"{self.prefix}:suspbuild"

    @property
    def suspbuild_log(self) -> str:
        return f"{self.prefix}:suspbuild:log"

    def manifest(self, version: str) -> str:
        return f"{self.prefix}:manifest:{version}"

    def component(self, component: Component, version: str) -> str:
        return f"{self.prefix}:{component.value}:{version}"

    def refs(self, static: str) -> str:
        return f"{self.prefix}:refs:{static}"

    def ops(self, static: str) -> str:
        return f"{self.prefix}:ops:{static}"
