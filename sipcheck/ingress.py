"""The one ingress mapping: which trunk a call came in on, from the peer that sent it.

Every edge that knows a call's sending peer (the SIP agent, HTTP's ``?ingress=``, the CLI's
``--ingress``, the batch ``ingress`` column and Kamailio's view) resolves it here, so one caller
from one peer is screened with one ingress everywhere. ``sip.peer_trunks`` maps a peer address
("IP:port", or "IP" for every port) to a trunk id; the trunks data names the operator behind each
trunk id. A peer the mapping does not name is screened by its IP address (which the trunks data
may also name); a value that is not an address (a trunk id a PBX passes over HTTP) is kept as is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field


def split_peer(peer: str) -> tuple[str, str | None]:
    """``(host, port)`` of "IP:port", "[v6]:port", "IP" or "v6"; the port None when absent."""
    text = peer.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") and rest[1:] else None
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, port or None
    return text, None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class IngressMap:
    """Peer address → trunk id (``sip.peer_trunks``), with the rule for peers it does not name."""

    peer_trunks: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def peers(self) -> list[str]:
        """The peer addresses the mapping names (Kamailio's view publishes each)."""
        return sorted(self.peer_trunks)

    def resolve(self, peer: str | None) -> str | None:
        """The ingress text a call from ``peer`` is screened with (None: no ingress known)."""
        if peer is None:
            return None
        try:
            return self._cache[peer]
        except KeyError:
            pass
        resolved = self._resolve(peer)
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[peer] = resolved
        return resolved

    def _resolve(self, peer: str) -> str | None:
        text = peer.strip()
        if not text:
            return None
        trunk = self.peer_trunks.get(text)
        if trunk is not None:
            return trunk
        host, port = split_peer(text)
        if not _is_address(host):
            return text  # a trunk id, not an address
        if port is not None:
            trunk = self.peer_trunks.get(f"{host}:{port}") or self.peer_trunks.get(f"[{host}]:{port}")
            if trunk is not None:
                return trunk
        return self.peer_trunks.get(host) or host
