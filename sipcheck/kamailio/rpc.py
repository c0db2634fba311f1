"""Kamailio's JSON-RPC over a loopback datagram socket (jsonrpcs): reload a table, set a variable."""

from __future__ import annotations

import itertools
import json
import socket
from typing import Any


class RpcError(RuntimeError):
    """Kamailio did not answer, or answered with an error."""


class KamailioRpc:
    """One datagram socket to Kamailio's jsonrpcs ``dgram_socket``; each call waits for its answer."""

    def __init__(self, address: tuple[str, int], timeout_s: float = 5.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))

    def call(self, method: str, *params: Any) -> Any:
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": request_id})
        self._sock.settimeout(self.timeout_s)
        try:
            self._sock.sendto(body.encode(), self.address)
            while True:
                data, _ = self._sock.recvfrom(1 << 20)
                reply = json.loads(data)
                if reply.get("id") == request_id:
                    break
        except (OSError, ValueError) as exc:
            raise RpcError(f"Kamailio RPC {method} at {self.address[0]}:{self.address[1]}: {exc}") from exc
        if "error" in reply:
            raise RpcError(f"Kamailio RPC {method}: {reply['error']}")
        return reply.get("result")

    def set_int(self, name: str, value: int) -> None:
        self.call("pv.shvSet", name, "int", value)

    def get_int(self, name: str) -> int:
        result = self.call("pv.shvGet", name)
        return int(result["value"]) if isinstance(result, dict) else int(result[0]["value"])

    def reload(self, table: str, timeout_s: float = 60.0) -> None:
        """Reload ``table`` from its db_text file: Kamailio answers when the load is done (about a second
        for the 80,000-entry view), so this waits longer than the other calls."""
        saved = self.timeout_s
        self.timeout_s = max(saved, timeout_s)
        try:
            self.call("htable.reload", table)
        finally:
            self.timeout_s = saved

    def close(self) -> None:
        self._sock.close()
