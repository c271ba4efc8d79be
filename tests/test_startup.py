"""Start-up failures: one line naming the option and the problem, status 1.

Each case runs a real ``twistd -n menuchat`` from this checkout and reads
what it prints; none may print a traceback. The in-process cases check the
wording of failures no test machine can cause (a port needing root).
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import tempfile
from collections.abc import Sequence

from twisted.internet.error import CannotListenError
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from menuchat import tap
from menuchat.net.listening import why_not_listening
from tests.realserver import ROOT, twistd_command


def run_twistd(*options: str) -> subprocess.CompletedProcess[str]:
    """``twistd -n menuchat OPTIONS``, expected to fail at once."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*twistd_command(), "-n", "--pidfile=", "menuchat", *options],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TwistdStartupTests(SynchronousTestCase):
    """What a mistyped option or an unopenable port looks like to an operator."""

    def assert_one_line(self, options: Sequence[str], expected: str) -> None:
        done = run_twistd(*options)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertNotIn("Traceback", done.stdout + done.stderr)
        self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
        self.assertIn(expected, done.stderr)
        self.assertTrue(done.stderr.startswith("menuchat: "), done.stderr)

    def test_port_in_use(self) -> None:
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        self.assert_one_line(
            ["--port", f"tcp:{port}:interface=127.0.0.1"],
            f"--port tcp:{port}:interface=127.0.0.1: cannot listen on "
            f"127.0.0.1:{port}: address already in use",
        )

    def test_port_out_of_range(self) -> None:
        self.assert_one_line(
            ["--port", "tcp:99999"],
            "--port tcp:99999: the port number must be 0-65535",
        )

    def test_unknown_interface_name(self) -> None:
        self.assert_one_line(
            ["--port", "tcp:0:interface=nosuchhost.invalid"],
            "unknown interface 'nosuchhost.invalid'",
        )

    def test_address_of_no_interface(self) -> None:
        self.assert_one_line(
            ["--port", "tcp:0:interface=192.0.2.1"],
            "cannot listen on 192.0.2.1:0: cannot assign requested address",
        )

    def test_missing_unix_socket_directory(self) -> None:
        directory = tempfile.mkdtemp(prefix="menuchat-startup-")
        self.addCleanup(os.rmdir, directory)
        path = os.path.join(directory, "missing", "chat.sock")
        self.assert_one_line(
            ["--port", f"unix:{path}"],
            f"--port unix:{path}: the socket's directory does not exist",
        )

    def test_bad_endpoint_strings(self) -> None:
        for description, problem in [
            ("nonsense:1", "Unknown endpoint type: 'nonsense'"),
            ("tcp:notaport", "the port must be a number"),
            ("tcp:0:colour=blue", "unknown parameter 'colour'"),
            ("ssl:0:privateKey=/nonexistent.pem", "no such file or directory"),
        ]:
            with self.subTest(description=description):
                self.assert_one_line(
                    ["--port", description], f"--port {description}: {problem}"
                )

    def test_bad_limit_names_the_option(self) -> None:
        self.assert_one_line(
            ["--max-line-length", "-5"],
            "--max-line-length must be at least 1, not -5",
        )

    def test_limit_that_is_not_a_number(self) -> None:
        self.assert_one_line(
            ["--login-timeout", "soon"], "--login-timeout must be a number, not 'soon'"
        )

    def test_unknown_option(self) -> None:
        self.assert_one_line(["--max-clint", "3"], "option --max-clint not recognized")


class InProcessTests(SynchronousTestCase):
    """The wording of failures, without a process."""

    def test_permission_denied_says_what_is_needed(self) -> None:
        error = CannotListenError(
            "", 80, PermissionError(errno.EACCES, "Permission denied")
        )
        self.assertEqual(
            why_not_listening(error),
            "cannot listen on port 80: permission denied (ports below 1024 need root"
            " or CAP_NET_BIND_SERVICE)",
        )

    def test_outside_twistd_a_bad_value_is_a_usage_error(self) -> None:
        options = tap.Options()
        with self.assertRaises(usage.UsageError) as raised:
            options.parseOptions(["--max-clients", "0"])
        self.assertEqual(
            str(raised.exception), "--max-clients must be at least 1, not 0"
        )
