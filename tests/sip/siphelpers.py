"""Fixtures for the SIP agent tests: a relay agent (child process) between SIPp callers and callees.

Every test gets its own loopback ports; agents, SIPp and tshark run in their
own process groups and are killed with them.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sipcheck.sip.harness import (
    AgentProcess,
    Sipp,
    SippResult,
    caller_audio,
    free_port,
    free_port_block,
    scenario,
    write_agent_config,
)

for tool in ("sipp", "tshark"):
    if shutil.which(tool) is None:  # a missing tool is an error, not a skip: CI installs both
        raise RuntimeError(f"the SIP tests need {tool} on PATH (Debian: apt-get install sip-tester tshark)")

AGENT_ENV = {"SIPCHECK_FIXED_NOW": "2026-08-01T12:00:00+09:00"}
"""Agents screen on a fixed day (sipcheck.sample.SAMPLE_DAY): verdicts never depend on today's date."""


@pytest.fixture(autouse=True)
def _no_stray_sipp() -> Iterator[None]:
    yield
    Sipp.kill_all()


@dataclass
class Relay:
    """A running agent and the ports around it."""

    agent: AgentProcess
    port: int  # the agent's public SIP port (UDP front)
    callee_port: int  # where the SIPp callee listens (the agent's next hop)
    callee_media: int
    caller_media: int
    workdir: Path


@pytest.fixture
def start_relay(tmp_path: Path) -> Iterator[Callable[..., Relay]]:
    started: list[AgentProcess] = []

    def start(store: str = "memory-sample", env: dict[str, str] | None = None, **sip: Any) -> Relay:
        port, callee_port = free_port(), free_port()
        media = free_port_block(420)
        values: dict[str, Any] = {
            "listen_port": port,
            "next_hop": f"sip:127.0.0.1:{callee_port}",
            "rtp_port": media + 20,
            "rtp_port_range": 400,
            "trusted_peers": ["127.0.0.1"],
            "peer_trunks": {"127.0.0.1": "trunk-a"},
            "log_level": 1,
        }
        values.update(sip)
        config = write_agent_config(tmp_path / f"agent-{port}.toml", **values)
        agent = AgentProcess(config, store=store, env={**AGENT_ENV, **(env or {})}).start()
        started.append(agent)
        caller_audio(tmp_path)
        return Relay(agent, port, callee_port, media, media + 10, tmp_path)

    yield start
    for agent in started:
        code = agent.stop()
        assert code == 0, f"agent exited with {code}:\n{agent.log[-3000:]}"
        assert "Assert" not in agent.log and "Traceback" not in agent.log, agent.log[-3000:]


_copies = itertools.count()


def uas(relay: Relay, name: str, *args: str) -> Sipp:
    """A SIPp callee (scenario ``name``) as the relay's next hop, started; ``wait``/``stop`` it."""
    sc = scenario(name, relay.workdir)
    cmd = ["-p", str(relay.callee_port), "-mp", str(relay.callee_media), "-m", "1", *args]
    return Sipp(relay.workdir, f"uas-{sc.stem}", sc, cmd).start()


def uac(
    relay: Relay,
    name: str,
    caller: str,
    *args: str,
    final_code: int | None = None,
    timeout: float = 20.0,
    headers: Sequence[str] = (),
) -> SippResult:
    """One call from a SIPp caller (From user ``caller``) through the relay; waits for it to end.

    ``headers`` are extra header lines for the caller's INVITE (SIPp keywords such as
    ``[local_ip]`` work in them), added after its Max-Forwards in a copy of the scenario.
    """
    sc = scenario(name, relay.workdir, final_code)
    if headers:
        text = sc.read_text()
        anchor = "Max-Forwards: 70\n"
        assert anchor in text, f"{sc.name} has no {anchor!r} to add headers after"
        copy = relay.workdir / f"{sc.stem}-headers-{next(_copies)}.xml"
        copy.write_text(text.replace(anchor, anchor + "".join(f"{h}\n" for h in headers), 1))
        sc = copy
    cmd: Sequence[str] = [
        "-mp",
        str(relay.caller_media),
        "-s",
        "0399990000",
        "-key",
        "caller",
        caller,
        "-m",
        "1",
        *args,
        f"127.0.0.1:{relay.port}",
    ]
    return Sipp(relay.workdir, f"uac-{sc.stem}-{caller}", sc, cmd).start().wait(timeout)


def invite_to_callee(messages: str) -> str:
    """The INVITE the callee received (first one in its message log), start line and headers."""
    start = messages.find("INVITE sip:")
    assert start != -1, f"the callee received no INVITE:\n{messages[:2000]}"
    return messages[
        start : messages.find("\r\n\r\n", start) if "\r\n\r\n" in messages[start:] else start + 3000
    ]
