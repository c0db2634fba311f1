"""Settings of the Kamailio edge: where its view lives and how the sync daemon talks to it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class KamailioSettings(BaseModel):
    """`sipcheck kamailio config` writes these into screen.cfg; `sipcheck kamailio sync` uses them to
    load Kamailio's view. One place, so the script and the daemon cannot disagree on a path or port."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    rpc: str = "udp:127.0.0.1:5961"
    """Kamailio's JSON-RPC datagram socket (jsonrpcs dgram_socket): ``udp:IP:port``, loopback only."""
    view_dir: Path | None = None
    """Directory of the view's db_text tables (Kamailio reads it); default: <data_dir>/kamailio."""
    table_size: int = Field(default=18, ge=10, le=22)
    """Each view table has 2^table_size hash slots (the real data set holds about 80,000 entries)."""
    heartbeat_s: float = Field(default=0.5, gt=0, le=10)
    """How often the daemon checks the data version and tells Kamailio the view is current."""
    stale_after_s: int = Field(default=3, ge=1, le=300)
    """Kamailio applies the fail policy when the daemon has not confirmed the view for this long
    (the shared Redis is down, or the daemon is): a view nobody vouches for is not current data."""
    days_ahead: int = Field(default=7, ge=1, le=60)
    """Verdicts are published for yesterday, today and this many days ahead (certification dates
    move verdicts at JST midnight; the daemon republishes well before the days run out)."""

    def directory(self, data_dir: Path) -> Path:
        return self.view_dir if self.view_dir is not None else data_dir / "kamailio"

    def rpc_address(self) -> tuple[str, int]:
        scheme, _, rest = self.rpc.partition(":")
        host, _, port = rest.rpartition(":")
        if scheme != "udp" or not host or not port.isdigit():
            raise ValueError(f"kamailio.rpc must be udp:IP:port, got {self.rpc!r}")
        return host, int(port)
