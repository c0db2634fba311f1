"""The SIP agent writes a decision record per screened INVITE, with its Call-ID, when decisions.dir is set."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from siphelpers import Relay, uac, uas

from sipcheck.sip.sipmsg import parse_message


def _records(directory: Path, timeout: float = 10.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(directory.glob("decisions-sip-*.jsonl"))
        lines = [line for f in files for line in f.read_text().splitlines()]
        if len(lines) >= 2:
            return [json.loads(line) for line in lines]
        time.sleep(0.1)  # the writer thread flushes on its own clock (decisionlog.FLUSH_S)
    raise AssertionError(f"no decision records in {directory}")


def test_each_screened_call_is_logged_with_its_call_id(
    start_relay: Callable[..., Relay], tmp_path: Path
) -> None:
    logs = tmp_path / "decisions"
    relay = start_relay(env={"SIPCHECK_DECISIONS__DIR": str(logs)})
    callee = uas(relay, "uas.xml")
    allowed = uac(relay, "uac.xml", "0352535111", "-d", "200")
    callee.wait(10)
    assert allowed.successful == 1, allowed.stderr
    blocked = uac(relay, "uac.xml", "05099990000", final_code=608)
    records = _records(logs)
    by_caller = {str(r["caller"]).split("@")[0].split(":")[-1]: r for r in records}
    assert by_caller["0352535111"]["action"] == "allow" and by_caller["05099990000"]["action"] == "block"
    invite = parse_message(allowed.messages[allowed.messages.find("INVITE sip:") :])
    assert by_caller["0352535111"]["call_id"] == invite.call_id
    assert all(r["edge"] == "sip" and r["ingress"] for r in records), records
    assert "block_not_designated" in str(by_caller["05099990000"]["reasons"])
    assert blocked.messages  # the caller got its 608
