"""Start, watch and always stop the processes of a benchmark run.

Every child (servers and load generators) gets the hard RLIMIT_NOFILE as its
soft limit and is killed by the kernel if the harness dies (PR_SET_PDEATHSIG);
on any normal exit `stop_all` (registered with atexit) stops what is left.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.procstat import raise_nofile

ROOT = Path(__file__).resolve().parent.parent

_PR_SET_PDEATHSIG = 1
_live: list[subprocess.Popen] = []


class BenchError(Exception):
    """A server or load generator failed to start, hung or crashed."""


def _child_setup() -> None:
    """In the child before exec: raise the fd limit and die with the parent."""
    raise_nofile()
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv: list[str], **kwargs: object) -> subprocess.Popen:
    """Start a child in the checkout; `stop_all` and the kernel will end it."""
    proc = subprocess.Popen(argv, cwd=ROOT, preexec_fn=_child_setup, **kwargs)
    _live.append(proc)
    return proc


def _stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Terminate ``proc``, then kill it if it has not exited after ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(grace)
    if proc in _live:
        _live.remove(proc)


def stop_all() -> None:
    """Stop every child still running (atexit and signal handler)."""
    for proc in list(_live):
        _stop(proc, grace=2.0)


atexit.register(stop_all)


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port, read from /proc/net/tcp.

    Used instead of a probe connection so the server sees no extra client.
    """
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[1] == want and parts[3] == "0A":
                return True
    return False


class ServerProcess:
    """One server under test: its process, port, log file and raised options."""

    def __init__(
        self, kind: str, argv: list[str], port: int, logfile: Path, options: list[str]
    ) -> None:
        self.kind = kind
        self.port = port
        self.logfile = logfile
        self.options = options
        self._log = open(logfile, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = spawn(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the port is listening; raise BenchError if it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.kind} exited with {self.proc.returncode} before "
                    f"listening:\n{self.log_tail()}"
                )
            if _listening(self.port):
                return
            time.sleep(0.05)
        raise BenchError(
            f"{self.kind} not listening after {timeout}s:\n{self.log_tail()}"
        )

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log, for error reports."""
        self._log.flush()
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and close its log."""
        _stop(self.proc)
        self._log.close()


def twistd_argv() -> list[str]:
    """The twistd command of the Python running the harness."""
    exe = Path(sys.executable).parent / "twistd"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def start_menuchat(
    options: list[str], logdir: Path, db: str = ":memory:", irc: bool = False
) -> ServerProcess:
    """Start ``twistd -n menuchat`` on a free loopback port with ``options``.

    ``db`` is its ``--db``: the memory store unless a file is named (in
    ``logdir``, so the checkout never gets one). With ``irc`` the free port
    is its IRC gateway's (``--irc-port``) and the menu listens beside it on
    an ephemeral port, unused by the run.
    """
    port = free_port()
    logfile = logdir / f"menuchat-{port}.log"
    if irc:
        ports = [
            "--port",
            "tcp:0:interface=127.0.0.1",
            "--irc-port",
            f"tcp:{port}:interface=127.0.0.1",
        ]
    else:
        ports = ["--port", f"tcp:{port}:interface=127.0.0.1"]
    argv = [
        *twistd_argv(),
        "-n",
        "--pidfile=",
        f"--logfile={logfile}",
        "menuchat",
        *ports,
        "--db",
        db,
        *options,
    ]
    kind = "menuchat-irc" if irc else "menuchat"
    server = ServerProcess(kind, argv, port, logfile, options)
    server.wait_ready()
    return server


def make_accounts(db: Path, names: list[bytes], password: bytes) -> None:
    """A new SQLite store at ``db`` holding an account for each of ``names``.

    Written before the server starts, with the server's own schema and
    password hash (one hash for all: each login still checks one).
    """
    from menuchat.core.accounts import hash_password
    from menuchat.core.names import token_key
    from menuchat.store.sqlite_schema import open_database

    password_hash = hash_password(password.decode())
    conn = open_database(str(db))
    try:
        conn.execute("BEGIN IMMEDIATE")
        (first,) = conn.execute(
            "UPDATE sequence SET next = next + ? WHERE name = 'user_id'"
            " RETURNING next - ?",
            (len(names), len(names)),
        ).fetchone()
        conn.executemany(
            "INSERT INTO accounts (user_id, name, key, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, 0)",
            [
                (first + n, name.decode(), token_key(name.decode()), password_hash)
                for n, name in enumerate(names)
            ],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def start_floor(logdir: Path) -> ServerProcess:
    """Start the floor relay (bench/floor.py) on a free loopback port."""
    port = free_port()
    logfile = logdir / f"floor-{port}.log"
    argv = [sys.executable, "-m", "bench.floor", "--port", str(port)]
    server = ServerProcess("floor", argv, port, logfile, [])
    server.wait_ready()
    return server


def ngircd_binary() -> str | None:
    """The ngIRCd executable (Debian package ``ngircd``), or None."""
    return shutil.which("ngircd") or next(
        (p for p in ("/usr/sbin/ngircd",) if os.access(p, os.X_OK)), None
    )


#: ngIRCd's configuration for a run: loopback only, no DNS/ident/PAM
#: lookups, no limit on connections per address, penalties off
#: (MaxPenaltyTime = 0) and an operator block so that each bench client can
#: set user mode +F, which lifts the per-client command and byte throttles
#: (about 3 commands and 256 bytes a second otherwise). What cannot be
#: configured: a client's unprocessed input is capped at 2048 bytes (more
#: closes the connection), so the IRC fan-out keeps its window under that.
NGIRCD_CONF = """\
[Global]
Name = bench.ngircd
Info = menuchat benchmark
AdminInfo1 = menuchat benchmark
AdminInfo2 = loopback
AdminEMail = bench@localhost
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = bench
PidFile = {dir}/ngircd.pid
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
[Operator]
Name = {oper}
Password = {password}
"""


def start_ngircd(logdir: Path) -> ServerProcess:
    """Start ngIRCd in the foreground with a generated configuration."""
    from bench.drivers import NGIRCD_OPER

    binary = ngircd_binary()
    if binary is None:
        raise BenchError("ngircd is not installed (apt-get install ngircd)")
    port = free_port()
    confdir = logdir / f"ngircd-{port}"
    confdir.mkdir()
    conf = confdir / "ngircd.conf"
    conf.write_text(
        NGIRCD_CONF.format(
            port=port,
            dir=confdir,
            oper=NGIRCD_OPER[0].decode(),
            password=NGIRCD_OPER[1].decode(),
        )
    )
    logfile = logdir / f"ngircd-{port}.log"
    argv = [binary, "--nodaemon", "--config", str(conf)]
    server = ServerProcess("ngircd", argv, port, logfile, [])
    server.wait_ready()
    return server


def menuchat_available() -> bool:
    """Whether the checkout has menuchat's server (menuchat/tap.py)."""
    return (ROOT / "menuchat" / "tap.py").exists()


def run_loadgen(args: list[str], timeout: float) -> dict:
    """Run the load generator with ``args``; return the JSON object it prints.

    A load generator that outlives ``timeout`` is killed and reported as a hang.
    """
    proc = spawn(
        [sys.executable, "-m", "bench.loadgen", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc, grace=1.0)
        out, err = proc.communicate()
        raise BenchError(
            f"load generator hung (> {timeout:.0f}s): {' '.join(args)}\n"
            f"{err.decode(errors='replace')[-2000:]}"
        ) from None
    finally:
        if proc in _live:
            _live.remove(proc)
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        raise BenchError(
            f"load generator printed nothing (exit {proc.returncode}): "
            f"{' '.join(args)}\n{err.decode(errors='replace')[-2000:]}"
        )
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise BenchError(
            f"load generator printed no JSON (exit {proc.returncode}):\n"
            f"{out.decode(errors='replace')[-2000:]}\n"
            f"{err.decode(errors='replace')[-2000:]}"
        ) from None
