"""The client's command line and the endpoint it names."""

from __future__ import annotations

import io
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.arguments import endpoint_for, parse_arguments, parse_port
from tests.test_client_tls import Authority


class ArgumentsTests(SynchronousTestCase):
    """L{parse_arguments} and L{endpoint_for}."""

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()

    def test_host_and_port(self) -> None:
        arguments = parse_arguments(["127.0.0.1", "12000"])
        self.assertEqual(
            (arguments.host, arguments.port, arguments.connect),
            ("127.0.0.1", 12000, None),
        )
        endpoint, address = endpoint_for(self.reactor, arguments)
        self.assertIsInstance(endpoint, HostnameEndpoint)
        self.assertEqual(address, "127.0.0.1:12000")

    def test_connect_takes_any_client_endpoint(self) -> None:
        arguments = parse_arguments(["--connect", "tcp:host=127.0.0.1:port=12000"])
        endpoint, address = endpoint_for(self.reactor, arguments)
        self.assertIsInstance(endpoint, TCP4ClientEndpoint)
        self.assertEqual(address, "tcp:host=127.0.0.1:port=12000")

    def test_no_address_means_asking(self) -> None:
        arguments = parse_arguments([])
        self.assertEqual(endpoint_for(self.reactor, arguments), (None, ""))
        self.assertEqual(arguments.linger, 2.0)

    def test_bad_arguments_are_a_one_line_usage_error(self) -> None:
        cases = [
            (["127.0.0.1"], "give both HOST and PORT"),
            (["127.0.0.1", "http"], "bad port 'http'"),
            (["127.0.0.1", "0"], "bad port '0'"),
            (["127.0.0.1", "12000", "--connect", "tcp:x:1"], "not both"),
            (["--bogus"], "unrecognized arguments: --bogus"),
            (["--linger", "-1"], "bad number of seconds"),
            (["a", "1", "extra"], "unrecognized arguments: extra"),
            (["--cafile", "ca.pem"], "--cafile needs --connect tls:HOST:PORT"),
            (["a", "1", "--cafile", "ca.pem"], "--cafile needs --connect"),
        ]
        for argv, complaint in cases:
            err = io.StringIO()
            with redirect_stderr(err), self.assertRaises(SystemExit) as exit:
                parse_arguments(argv)
            self.assertEqual(exit.exception.code, 2, argv)
            self.assertEqual(err.getvalue().count("\n"), 1, argv)
            self.assertTrue(err.getvalue().startswith("menuchat-client: error: "), argv)
            self.assertIn(complaint, err.getvalue())

    def test_a_bad_endpoint_is_a_one_line_usage_error(self) -> None:
        arguments = parse_arguments(["--connect", "nonsense:whatever"])
        err = io.StringIO()
        with redirect_stderr(err), self.assertRaises(SystemExit) as exit:
            endpoint_for(self.reactor, arguments)
        self.assertEqual(exit.exception.code, 2)
        self.assertEqual(err.getvalue().count("\n"), 1)
        self.assertIn("bad endpoint 'nonsense:whatever'", err.getvalue())

    def test_a_bad_cafile_is_a_one_line_usage_error(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="menuchat-cafile-"))
        self.addCleanup(shutil.rmtree, directory)
        empty = directory / "empty.pem"
        empty.write_text("no certificate here")
        missing = directory / "missing.pem"
        _, ca = Authority.make(directory, "ca")
        cases = [
            (["--connect", "tls:h:1", "--cafile", str(missing)], "cannot read"),
            (["--connect", "tls:h:1", "--cafile", str(empty)], "no PEM certificate"),
            (
                ["--connect", "tcp:h:1", "--cafile", str(ca)],
                "--cafile needs --connect tls:HOST:PORT",
            ),
        ]
        for argv, complaint in cases:
            err = io.StringIO()
            with redirect_stderr(err), self.assertRaises(SystemExit) as exit:
                endpoint_for(self.reactor, parse_arguments(argv))
            self.assertEqual(exit.exception.code, 2, argv)
            self.assertEqual(err.getvalue().count("\n"), 1, argv)
            self.assertIn(complaint, err.getvalue())

    def test_help(self) -> None:
        out = io.StringIO()
        with redirect_stdout(out), self.assertRaises(SystemExit) as exit:
            parse_arguments(["--help"])
        self.assertEqual(exit.exception.code, 0)
        self.assertTrue(out.getvalue().startswith("usage: menuchat-client"))
        self.assertIn("--connect ENDPOINT", out.getvalue())
        self.assertIn("--cafile FILE", out.getvalue())


class ParsePortTests(SynchronousTestCase):
    """L{parse_port} reads the port the user typed."""

    def test_ports(self) -> None:
        self.assertEqual(parse_port(" 12000 "), 12000)
        self.assertEqual(parse_port("65535"), 65535)
        for text in ("0", "65536", "port", "", "-1", "١٢"):
            self.assertIsNone(parse_port(text), text)
