"""The client's TLS: its own trust roots, and failures said in plain words.

C{--connect tls:HOST:PORT} checks the server's certificate and host name
against the system's roots, or with C{--cafile} against the certificate
authorities in that file (L{tls_endpoint}). When the check fails, OpenSSL
and service_identity report it as C{[('SSL routines', '',
'certificate verify failed')]} or a C{VerificationError} repr:
L{certificate_problem} reads the verification result off the connection
and turns it into a L{CertificateRejected} that says what went wrong.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import TYPE_CHECKING, Any

from OpenSSL import SSL, crypto
from service_identity import VerificationError
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import (
    Certificate,
    optionsForClientTLS,
    trustRootFromCertificates,
)

if TYPE_CHECKING:
    # Twisted does not export the interface of what trustRootFromCertificates
    # makes.
    from twisted.internet._sslverify import IOpenSSLTrustRoot

__all__ = [
    "CertificateRejected",
    "Problem",
    "certificate_problem",
    "load_trust_root",
    "tls_endpoint",
    "verify_rejection",
]

_PEM = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)

# The tls: endpoint's parameters that make sense with --cafile; trustRoots
# would contradict it, and a client certificate is not offered here.
_KEYWORDS = frozenset({"host", "port", "timeout", "bindAddress"})


class Problem(Enum):
    """Why a server's certificate was not accepted."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    WRONG_HOST = "wrong host"
    UNKNOWN_ISSUER = "unknown issuer"
    REVOKED = "revoked"
    OTHER = "other"
    HANDSHAKE = "handshake"


# OpenSSL's X509_V_ERR_* verification results (x509_vfy.h); the numbers are
# part of its ABI.
_VERIFY_RESULTS = {
    2: Problem.UNKNOWN_ISSUER,  # UNABLE_TO_GET_ISSUER_CERT
    9: Problem.NOT_YET_VALID,  # CERT_NOT_YET_VALID
    10: Problem.EXPIRED,  # CERT_HAS_EXPIRED
    18: Problem.UNKNOWN_ISSUER,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: Problem.UNKNOWN_ISSUER,  # SELF_SIGNED_CERT_IN_CHAIN
    20: Problem.UNKNOWN_ISSUER,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: Problem.UNKNOWN_ISSUER,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    23: Problem.REVOKED,  # CERT_REVOKED
    62: Problem.WRONG_HOST,  # HOSTNAME_MISMATCH
    64: Problem.WRONG_HOST,  # IP_ADDRESS_MISMATCH
}


class CertificateRejected(Exception):
    """The TLS connection to the server failed; L{describe} says why.

    @ivar problem: what was wrong.
    @ivar detail: the expected host (L{Problem.WRONG_HOST}), OpenSSL's
        verification result (L{Problem.OTHER}) or its reason
        (L{Problem.HANDSHAKE}); empty when unknown.
    """

    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(problem, detail)
        self.problem = problem
        self.detail = detail

    def describe(self, cafile: str | None = None) -> str:
        """One sentence, without the program's name or a final stop.

        @param cafile: the C{--cafile} given, if any: an unknown issuer is
            then one not in that file.
        """
        problem = self.problem
        if problem is Problem.EXPIRED:
            return "the server's certificate has expired"
        if problem is Problem.NOT_YET_VALID:
            return "the server's certificate is not valid yet (check the clock)"
        if problem is Problem.WRONG_HOST:
            expected = f" (expected {self.detail})" if self.detail else ""
            return f"the server's certificate is for another host{expected}"
        if problem is Problem.UNKNOWN_ISSUER:
            if cafile is not None:
                return (
                    "the server's certificate is signed by an unknown issuer"
                    f" (not one in {cafile})"
                )
            return (
                "the server's certificate is signed by an unknown issuer;"
                " use --cafile if the server uses its own certificate authority"
            )
        if problem is Problem.REVOKED:
            return "the server's certificate has been revoked"
        if problem is Problem.OTHER:
            return f"the server's certificate was not accepted ({self.detail})"
        reason = f": {self.detail}" if self.detail else ""
        return f"the TLS handshake with the server failed{reason}"

    def __str__(self) -> str:
        return self.describe()


def certificate_problem(
    reason: BaseException, transport: object
) -> CertificateRejected | None:
    """What C{reason}, why a TLS connection closed, means; L{None} if not TLS.

    @param transport: the connection's transport, from which OpenSSL's
        verification result is read.
    """
    if isinstance(reason, VerificationError):
        return CertificateRejected(Problem.WRONG_HOST, _expected_host(reason))
    if not isinstance(reason, SSL.Error):
        return None
    result = _verify_result(transport)
    if result:
        return verify_rejection(result)
    return CertificateRejected(Problem.HANDSHAKE, _ssl_reason(reason))


def verify_rejection(result: int) -> CertificateRejected:
    """What OpenSSL's verification result C{result} (not 0) means."""
    problem = _VERIFY_RESULTS.get(result, Problem.OTHER)
    detail = f"OpenSSL verify error {result}" if problem is Problem.OTHER else ""
    return CertificateRejected(problem, detail)


def _expected_host(error: VerificationError) -> str:
    for mismatch in error.errors:
        identity = mismatch.mismatched_id
        for attribute in ("hostname", "ip"):
            value = getattr(identity, attribute, None)
            if isinstance(value, bytes):
                return value.decode("ascii", "replace")
            if value is not None:
                return str(value)
    return ""


def _verify_result(transport: object) -> int:
    """Why OpenSSL rejected the chain the server sent over C{transport}; 0 if
    it did not or that cannot be told.

    pyOpenSSL does not expose the connection's verification result, so the
    chain is verified again against the connection's own trust store.
    """
    get_handle = getattr(transport, "getHandle", None)
    handle = get_handle() if get_handle is not None else None
    if not isinstance(handle, SSL.Connection):
        return 0
    chain = handle.get_peer_cert_chain()
    if not chain:
        return 0
    store = handle.get_context().get_cert_store()
    if store is None:
        return 0
    try:
        crypto.X509StoreContext(store, chain[0], chain[1:]).verify_certificate()
    except crypto.X509StoreContextError as e:
        code = e.errors[0] if e.errors else 0
        return code if isinstance(code, int) else 0
    return 0


def _ssl_reason(error: SSL.Error) -> str:
    """The last reason in an OpenSSL error list, e.g. C{wrong version number}."""
    errors = error.args[0] if error.args else None
    if isinstance(errors, list) and errors and isinstance(errors[-1], tuple):
        return str(errors[-1][-1])
    return str(error)


def load_trust_root(path: str) -> IOpenSSLTrustRoot:
    """The certificate authorities in the PEM file at C{path}.

    @raise ValueError: the file cannot be read or holds no certificate; the
        message says which.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    certificates = []
    for block in _PEM.findall(data):
        try:
            certificates.append(Certificate.loadPEM(block))
        except SSL.Error:
            raise ValueError(f"{path} holds a certificate that is not valid") from None
    if not certificates:
        raise ValueError(f"{path} holds no PEM certificate")
    root: IOpenSSLTrustRoot = trustRootFromCertificates(certificates)
    return root


def tls_endpoint(
    reactor: Any, description: str, trust_root: IOpenSSLTrustRoot
) -> IStreamClientEndpoint:
    """A C{tls:HOST:PORT} endpoint that trusts only C{trust_root}.

    Twisted's own C{tls:} endpoint takes trust roots only as a directory;
    this takes the same description (host, port, timeout, bindAddress).

    @raise ValueError: C{description} is not such an endpoint.
    """
    fields = _fields(description)
    if not fields or fields[0] != "tls":
        raise ValueError("--cafile needs --connect tls:HOST:PORT")
    positional: list[str] = []
    keywords: dict[str, str] = {}
    for field in fields[1:]:
        key, equals, value = field.partition("=")
        if not equals:
            positional.append(field)
        elif key in _KEYWORDS:
            keywords[key] = value
        else:
            raise ValueError(f"--cafile cannot be used with {key}=")
    for key, value in zip(("host", "port"), positional, strict=False):
        keywords.setdefault(key, value)
    if len(positional) > 2 or "host" not in keywords or "port" not in keywords:
        raise ValueError("--cafile needs --connect tls:HOST:PORT")
    host = keywords["host"]
    try:
        port = int(keywords["port"])
        timeout = int(keywords.get("timeout", "30"))
    except ValueError:
        raise ValueError("the port and timeout are numbers") from None
    bind = keywords.get("bindAddress")
    options = optionsForClientTLS(host, trustRoot=trust_root)
    connecting = HostnameEndpoint(
        reactor, host, port, timeout, None if bind is None else (bind, 0)
    )
    return wrapClientTLS(options, connecting)


def _fields(description: str) -> list[str]:
    """An endpoint description split at its colons, backslash escapes undone."""
    fields = [""]
    escaped = False
    for character in description:
        if escaped:
            fields[-1] += character
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ":":
            fields.append("")
        else:
            fields[-1] += character
    return fields
