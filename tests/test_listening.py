"""Listening (net/listening.py): why an endpoint did not open, in one
sentence, and a Listener's binding, reading and stopping, on fake ports."""

from __future__ import annotations

import errno
import socket

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from menuchat.net.listening import (
    CannotListen,
    Listener,
    endpoint_problem,
    why_not_listening,
    with_backlog,
)


def cannot_listen(interface: str, port: int, cause: object) -> CannotListenError:
    return CannotListenError(interface, port, cause)


class WhyNotListeningTests(SynchronousTestCase):
    """A failed listen, in words."""

    def test_a_port_out_of_range(self) -> None:
        self.assertEqual(
            why_not_listening(OverflowError("port must be 0-65535.")),
            "the port number must be 0-65535",
        )

    def test_a_privileged_port(self) -> None:
        for code in (errno.EACCES, errno.EPERM):
            error = cannot_listen("", 80, OSError(code, "Permission denied"))
            self.assertEqual(
                why_not_listening(error),
                "cannot listen on port 80: permission denied (ports below 1024"
                " need root or CAP_NET_BIND_SERVICE)",
            )

    def test_an_address_of_another_machine(self) -> None:
        cause = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        self.assertEqual(
            why_not_listening(cannot_listen("192.0.2.1", 12000, cause)),
            "cannot listen on 192.0.2.1:12000: cannot assign requested address"
            " (no interface of this machine has that address)",
        )

    def test_a_busy_port(self) -> None:
        cause = OSError(errno.EADDRINUSE, "Address already in use")
        self.assertEqual(
            why_not_listening(cannot_listen("127.0.0.1", 12000, cause)),
            "cannot listen on 127.0.0.1:12000: address already in use",
        )

    def test_an_os_error_without_its_text(self) -> None:
        self.assertEqual(
            why_not_listening(cannot_listen("", 1, OSError("Odd Failure"))),
            "cannot listen on port 1: odd failure",
        )

    def test_an_unknown_interface(self) -> None:
        cause = socket.gaierror(-2, "Name or service not known")
        self.assertEqual(
            why_not_listening(cannot_listen("nowhere.invalid", 1, cause)),
            "cannot listen on nowhere.invalid:1: unknown interface 'nowhere.invalid'",
        )

    def test_another_cause(self) -> None:
        self.assertEqual(
            why_not_listening(cannot_listen("", 7, "Something Else")),
            "cannot listen on port 7: Something Else",
        )

    def test_a_socket_in_a_missing_directory(self) -> None:
        error = FileNotFoundError(errno.ENOENT, "No such file or directory")
        self.assertEqual(
            why_not_listening(error), "the socket's directory does not exist"
        )

    def test_another_os_error(self) -> None:
        error = OSError(errno.EACCES, "Permission Denied")
        self.assertEqual(why_not_listening(error), "permission denied")

    def test_anything_else(self) -> None:
        self.assertEqual(why_not_listening(ValueError("Bad Thing")), "Bad Thing")
        self.assertEqual(why_not_listening(OSError("Bare")), "Bare")
        self.assertEqual(why_not_listening(ValueError()), "ValueError")


class EndpointProblemTests(SynchronousTestCase):
    """A refused endpoint description, in words."""

    def test_an_os_error_names_its_file(self) -> None:
        error = OSError(errno.ENOENT, "No such file or directory", "/x/key.pem")
        self.assertEqual(
            endpoint_problem(error), "no such file or directory: /x/key.pem"
        )

    def test_an_os_error_without_a_file(self) -> None:
        error = OSError(errno.EACCES, "Permission Denied")
        self.assertEqual(endpoint_problem(error), "permission denied:")

    def test_a_port_that_is_no_number(self) -> None:
        error = ValueError("invalid literal for int() with base 10: 'x'")
        self.assertEqual(endpoint_problem(error), "the port must be a number")

    def test_an_unknown_parameter(self) -> None:
        error = TypeError("__init__() got an unexpected keyword argument 'colour'")
        self.assertEqual(endpoint_problem(error), "unknown parameter 'colour'")

    def test_anything_else(self) -> None:
        self.assertEqual(endpoint_problem(ValueError("Odd")), "Odd")
        self.assertEqual(endpoint_problem(KeyError()), "KeyError")


class BacklogTests(SynchronousTestCase):
    def test_a_tls_port_gets_the_backlog_too(self) -> None:
        self.assertEqual(
            with_backlog("ssl:6697:privateKey=k.pem"),
            "ssl:6697:privateKey=k.pem:backlog=4096",
        )


@implementer(IListeningPort)
class Port:
    """A listening port that notes what it was told."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def startReading(self) -> None:
        self.calls.append("startReading")

    def stopReading(self) -> None:
        self.calls.append("stopReading")

    def stopListening(self) -> Deferred[None]:
        self.calls.append("stopListening")
        return succeed(None)

    def getHost(self) -> object:
        return None


@implementer(IListeningPort)
class BarePort:
    """A port with nothing to start or stop reading (not a socket's)."""

    def stopListening(self) -> None:
        pass

    def getHost(self) -> object:
        return None


class Endpoint:
    """An endpoint whose listen() answers with C{answer}."""

    def __init__(self, answer: Deferred[object]) -> None:
        self.answer = answer
        self.listened = 0

    def listen(self, factory: object) -> Deferred[object]:
        self.listened += 1
        return self.answer


class ListenerTests(SynchronousTestCase):
    def listener(self, answer: Deferred[object]) -> tuple[Listener, Endpoint]:
        endpoint = Endpoint(answer)
        return Listener("--port tcp:12000", endpoint, object()), endpoint  # type: ignore[arg-type]

    def test_bound_early_then_reading_at_start_then_stopped(self) -> None:

        port = Port()
        listener, endpoint = self.listener(succeed(port))
        listener.privilegedStartService()
        self.assertEqual(port.calls, ["stopReading"])
        listener.startService()
        self.assertTrue(listener.running)
        self.assertEqual(endpoint.listened, 1)
        self.assertEqual(port.calls, ["stopReading", "startReading"])
        stopped: list[object] = []
        listener.stopService().addCallback(stopped.append)
        self.assertEqual(stopped, [None])
        self.assertEqual(port.calls[-1], "stopListening")
        self.assertFalse(listener.running)
        self.assertIsNone(listener.port)

    def test_started_without_the_privileged_step_it_binds(self) -> None:

        port = BarePort()
        listener, endpoint = self.listener(succeed(port))
        listener.startService()
        self.assertEqual(endpoint.listened, 1)
        self.assertIs(listener.port, port)

    def test_a_port_with_nothing_to_pause_is_bound_and_started(self) -> None:

        port = BarePort()
        listener, endpoint = self.listener(succeed(port))
        listener.privilegedStartService()
        listener.startService()
        self.assertEqual(endpoint.listened, 1)
        self.assertIs(listener.port, port)

    def test_stopping_what_never_listened(self) -> None:
        listener, _ = self.listener(Deferred())
        stopped: list[object] = []
        listener.stopService().addCallback(stopped.append)
        self.assertEqual(stopped, [None])

    def test_a_failed_listen_is_one_sentence(self) -> None:
        cause = OSError(errno.EADDRINUSE, "Address already in use")
        listener, _ = self.listener(fail(cannot_listen("", 12000, cause)))
        with self.assertRaises(CannotListen) as caught:
            listener.privilegedStartService()
        self.assertEqual(
            str(caught.exception),
            "--port tcp:12000: cannot listen on port 12000: address already in use",
        )

    def test_an_endpoint_that_does_not_open_at_once(self) -> None:
        listener, _ = self.listener(Deferred())
        with self.assertRaises(CannotListen) as caught:
            listener.privilegedStartService()
        self.assertEqual(
            str(caught.exception),
            "--port tcp:12000: the endpoint did not open at once",
        )
