"""TLS ports: a made certificate served end to end, and reloaded on SIGHUP.

A real ``twistd -n menuchat`` listens on an ``ssl:`` port with a key and
certificate this test makes; a client checks which certificate it is
served, the files are replaced, SIGHUP is sent, and the next connection
gets the new certificate while the first one goes on.
"""

from __future__ import annotations

import datetime
import shutil
import signal
import socket
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL.SSL import TLS_METHOD, Context
from twisted.trial.unittest import SynchronousTestCase

from menuchat.net.tls import ReloadableCertificate, looks_like_tls
from tests.realserver import NAME_PROMPT, OPTION_PROMPT, TIMEOUT, ServerProcess


def make_certificate(directory: Path, name: str) -> bytes:
    """A self-signed certificate for C{name} in key.pem and cert.pem; its DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(key, hashes.SHA256())
    )
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "cert.pem").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def tls_connect(port: int) -> ssl.SSLSocket:
    """A TLS client socket to the server, accepting any certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return context.wrap_socket(raw)


def read_until(sock: ssl.SSLSocket, marker: str) -> str:
    data = b""
    while marker.encode() not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"closed before {marker!r}: {data!r}")
        data += chunk
    return data.decode()


class TLSPortTests(SynchronousTestCase):
    """An ``ssl:`` port of a real server."""

    def setUp(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="menuchat-tls-"))
        self.addCleanup(shutil.rmtree, self.directory)

    def start(self) -> tuple[ServerProcess, int]:
        key, cert = self.directory / "key.pem", self.directory / "cert.pem"
        server = ServerProcess(
            self.directory / "menuchat.log",
            [
                "--port",
                f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}",
            ],
        )
        server.start()
        self.addCleanup(server.kill)
        found = server.wait_for_log(r"MenuChatFactory \(TLS\) starting on (\d+)")
        return server, int(found.group(1))

    def test_dialogue_over_tls(self) -> None:
        served = make_certificate(self.directory, "chat.test")
        _, port = self.start()
        with tls_connect(port) as sock:
            self.assertEqual(sock.getpeercert(binary_form=True), served)
            read_until(sock, NAME_PROMPT)
            sock.sendall(b"Nina\r\n")
            self.assertIn("Client Name: Nina", read_until(sock, OPTION_PROMPT))

    def test_sighup_reloads_the_certificate(self) -> None:
        first = make_certificate(self.directory, "a.test")
        server, port = self.start()
        before = tls_connect(port)
        self.addCleanup(before.close)
        self.assertEqual(before.getpeercert(binary_form=True), first)
        read_until(before, NAME_PROMPT)

        second = make_certificate(self.directory, "b.test")
        self.assertNotEqual(first, second)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("certificate reloaded")

        with tls_connect(port) as after:
            self.assertEqual(after.getpeercert(binary_form=True), second)
        # The connection made before the reload goes on.
        before.sendall(b"Nina\r\n")
        self.assertIn("Client Name: Nina", read_until(before, OPTION_PROMPT))
        self.assertTrue(server.alive())

    def test_unreadable_files_keep_the_old_certificate(self) -> None:
        first = make_certificate(self.directory, "a.test")
        server, port = self.start()
        assert server.proc is not None
        (self.directory / "cert.pem").write_text("not a certificate")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("kept the old certificate")
        with tls_connect(port) as sock:
            self.assertEqual(sock.getpeercert(binary_form=True), first)


class Loaded:
    """What the port's loader returns: a context factory."""

    def __init__(self) -> None:
        self.context = Context(TLS_METHOD)

    def getContext(self) -> Context:
        return self.context


class ReloadableCertificateTests(SynchronousTestCase):
    """Each new connection gets the context loaded last; a failed reload
    keeps the one before."""

    def test_new_connections_use_the_certificate_loaded_last(self) -> None:
        loads = [Loaded(), Loaded()]
        loaded = iter(loads)
        certificate = ReloadableCertificate(lambda: next(loaded))
        before = certificate.serverConnectionForTLS(None)  # type: ignore[arg-type]
        self.assertIs(before.get_context(), loads[0].context)
        certificate.reload()
        after = certificate.serverConnectionForTLS(None)  # type: ignore[arg-type]
        self.assertIs(after.get_context(), loads[1].context)
        self.assertIs(before.get_context(), loads[0].context)

    def test_a_failed_reload_keeps_the_certificate(self) -> None:
        first = Loaded()
        answers = [first]

        def load() -> Loaded:
            if not answers:
                raise OSError("key.pem: permission denied")
            return answers.pop()

        certificate = ReloadableCertificate(load)
        with self.assertRaises(OSError):
            certificate.reload()
        connection = certificate.serverConnectionForTLS(None)  # type: ignore[arg-type]
        self.assertIs(connection.get_context(), first.context)


class TLSSniffTests(SynchronousTestCase):
    def test_a_lone_ctrl_v_is_not_tls(self) -> None:
        self.assertFalse(looks_like_tls(b"\x16"))
        self.assertFalse(looks_like_tls(b"\x16\r\n"))
        self.assertFalse(looks_like_tls(b"\x16abc\r\n"))

    def test_a_client_hello_is_tls(self) -> None:
        self.assertTrue(looks_like_tls(b"\x16\x03\x01\x02\x00\x01"))
        self.assertTrue(looks_like_tls(b"\x80\x2e\x01\x00\x02"))

    def test_the_three_bytes_that_decide(self) -> None:
        # A TLS 1.0-1.3 record header is enough; a later minor version, another
        # major version or a cut header is typed text.
        for hello in (b"\x16\x03\x00", b"\x16\x03\x04", b"\x80\x00\x01"):
            self.assertTrue(looks_like_tls(hello), hello)
        for text in (
            b"\x16\x03",
            b"\x16\x03\x05",
            b"\x16\x02\x01",
            b"\x16\x04\x01",
            b"\x80\x2e",
            b"\x80\x2e\x02",
            b"\x80\x2e\x00",
            b"\x81\x2e\x01",
            b"\x15\x03\x01",
            b"",
        ):
            self.assertFalse(looks_like_tls(text), text)
