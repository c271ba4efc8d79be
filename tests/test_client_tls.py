"""The client over TLS: the server's certificate checked, failures in words.

A certificate authority and server certificates are made here; a real
``twistd -n menuchat`` listens on an ``ssl:`` port on 127.0.0.1, and the
client program connects with ``--connect tls:127.0.0.1:PORT`` (and
``--cafile``). Both are processes, so these run under trial and pytest
alike.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from service_identity import VerificationError
from service_identity.exceptions import DNSMismatch
from service_identity.hazmat import DNS_ID
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.ssl import platformTrust
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.conversation import Ending, ending_for
from menuchat.client.tls import (
    CertificateRejected,
    Problem,
    certificate_problem,
    tls_endpoint,
    verify_rejection,
)
from tests.realserver import NAME_PROMPT, ROOT, TIMEOUT, ServerProcess

DAY = datetime.timedelta(days=1)


@attrs.frozen
class Authority:
    """A certificate authority made for a test."""

    key: ec.EllipticCurvePrivateKey
    name: x509.Name

    @classmethod
    def make(cls, directory: Path, name: str) -> tuple[Authority, Path]:
        """A new authority, and the PEM file of its certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .sign(key, hashes.SHA256())
        )
        path = directory / f"{name}.pem"
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cls(key, subject), path

    def issue(
        self,
        directory: Path,
        names: Sequence[x509.GeneralName],
        valid_from: datetime.timedelta = -DAY,
        valid_to: datetime.timedelta = DAY,
    ) -> tuple[Path, Path]:
        """A server key and certificate for C{names}, valid from and to these
        offsets from now; their PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "s")]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + valid_from)
            .not_valid_after(now + valid_to)
            .add_extension(x509.SubjectAlternativeName(names), False)
            .sign(self.key, hashes.SHA256())
        )
        key_path, cert_path = directory / "server-key.pem", directory / "server.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return key_path, cert_path


LOOPBACK = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


class ClientTLSTests(SynchronousTestCase):
    """The client program against a real server's TLS port on loopback."""

    def setUp(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="menuchat-client-tls-"))
        self.addCleanup(shutil.rmtree, self.directory)
        self.authority, self.cafile = Authority.make(self.directory, "ca")

    def serve(self, key: Path, cert: Path) -> int:
        """A real server with an ``ssl:`` loopback port; that port."""
        server = ServerProcess(
            self.directory / "menuchat.log",
            ["--port", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"],
        )
        server.start()
        self.addCleanup(server.kill)
        found = server.wait_for_log(r"MenuChatFactory \(TLS\) starting on (\d+)")
        return int(found.group(1))

    def client(
        self, port: int, cafile: Path | None, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """Run C{menuchat-client --connect tls:127.0.0.1:PORT} to its end."""
        argv = ["--connect", f"tls:127.0.0.1:{port}", "--linger", "5"]
        if cafile is not None:
            argv += ["--cafile", str(cafile)]
        return subprocess.run(
            [sys.executable, "-m", "menuchat.client", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            timeout=TIMEOUT * 3,
            check=False,
        )

    def assert_refused(
        self, run: subprocess.CompletedProcess[str], sentence: str
    ) -> None:
        """The client said C{sentence}, alone on stderr, and exited with 1."""
        self.assertEqual(run.stderr, f"menuchat-client: {sentence}\n")
        self.assertEqual(run.returncode, 1)

    def test_good_certificate_with_cafile_reaches_the_name_prompt(self) -> None:
        port = self.serve(*self.authority.issue(self.directory, LOOPBACK))
        run = self.client(port, self.cafile, "Nina\n6\n")
        self.assertIn(NAME_PROMPT, run.stdout)
        self.assertIn("Client Name: Nina", run.stdout)
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_wrong_host(self) -> None:
        names = [x509.DNSName("chat.example.org")]
        port = self.serve(*self.authority.issue(self.directory, names))
        self.assert_refused(
            self.client(port, self.cafile),
            "the server's certificate is for another host (expected 127.0.0.1).",
        )

    def test_expired(self) -> None:
        port = self.serve(
            *self.authority.issue(
                self.directory, LOOPBACK, valid_from=-3 * DAY, valid_to=-DAY
            )
        )
        self.assert_refused(
            self.client(port, self.cafile),
            "the server's certificate has expired.",
        )

    def test_unknown_issuer_with_cafile(self) -> None:
        other, _ = Authority.make(self.directory, "other")
        port = self.serve(*other.issue(self.directory, LOOPBACK))
        self.assert_refused(
            self.client(port, self.cafile),
            "the server's certificate is signed by an unknown issuer"
            f" (not one in {self.cafile}).",
        )

    def test_unknown_issuer_against_the_system_roots(self) -> None:
        port = self.serve(*self.authority.issue(self.directory, LOOPBACK))
        self.assert_refused(
            self.client(port, None),
            "the server's certificate is signed by an unknown issuer; use"
            " --cafile if the server uses its own certificate authority.",
        )


class CertificateProblemTests(SynchronousTestCase):
    """L{certificate_problem} reads why a TLS connection closed."""

    def problem(self, reason: BaseException) -> CertificateRejected:
        rejected = certificate_problem(reason, object())
        assert rejected is not None
        return rejected

    def test_verification_results(self) -> None:
        for result, problem in [
            (10, Problem.EXPIRED),
            (9, Problem.NOT_YET_VALID),
            (18, Problem.UNKNOWN_ISSUER),
            (19, Problem.UNKNOWN_ISSUER),
            (20, Problem.UNKNOWN_ISSUER),
            (21, Problem.UNKNOWN_ISSUER),
            (23, Problem.REVOKED),
            (62, Problem.WRONG_HOST),
            (26, Problem.OTHER),
        ]:
            self.assertIs(verify_rejection(result).problem, problem)

    def test_sentences_never_show_openssl_tuples(self) -> None:
        for result in (10, 9, 20, 23, 26, 62):
            sentence = str(verify_rejection(result))
            self.assertTrue(sentence.startswith("the server's certificate"), sentence)
            self.assertNotIn("SSL routines", sentence)
            self.assertNotIn("\n", sentence)

    def test_a_host_name_mismatch(self) -> None:
        error = VerificationError([DNSMismatch(DNS_ID("chat.example.org"))])
        rejected = self.problem(error)
        self.assertEqual(
            str(rejected),
            "the server's certificate is for another host (expected chat.example.org)",
        )

    def test_a_handshake_failure_that_is_not_the_certificate(self) -> None:
        error = SSL.Error([("SSL routines", "", "wrong version number")])
        self.assertEqual(
            str(self.problem(error)),
            "the TLS handshake with the server failed: wrong version number",
        )

    def test_other_reasons_are_left_alone(self) -> None:
        for reason in (ConnectionDone(), ConnectionLost()):
            self.assertIsNone(certificate_problem(reason, object()))

    def test_ending(self) -> None:
        rejected = CertificateRejected(Problem.EXPIRED)
        self.assertEqual(
            ending_for(rejected, said_goodbye=False, user_quit=False),
            Ending(1, "menuchat-client: the server's certificate has expired."),
        )


class TLSEndpointTests(SynchronousTestCase):
    """--cafile with the tls: endpoint's own description."""

    def test_descriptions(self) -> None:
        reactor = MemoryReactorClock()
        root = platformTrust()
        for description in (
            "tls:chat.example.org:12001",
            "tls:host=chat.example.org:port=12001:timeout=5",
            "tls:\\:\\:1:12001:bindAddress=\\:\\:1",
        ):
            tls_endpoint(reactor, description, root)
        for description, complaint in [
            ("tcp:chat.example.org:12001", "needs --connect tls:HOST:PORT"),
            ("tls:chat.example.org", "needs --connect tls:HOST:PORT"),
            ("tls:chat.example.org:12001:trustRoots=/etc", "trustRoots="),
            ("tls:chat.example.org:http", "numbers"),
        ]:
            with self.assertRaises(ValueError) as raised:
                tls_endpoint(reactor, description, root)
            self.assertIn(complaint, str(raised.exception))
