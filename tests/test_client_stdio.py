"""The client on this process's stdio: the terminal's modes and Ctrl-Z.

The terminal here is a real pseudo-terminal; only the signal that would
stop the test process is faked.
"""

from __future__ import annotations

import os
import signal
import termios
import time
from collections.abc import Callable

from twisted.trial.unittest import SynchronousTestCase

from menuchat.client.stdio import JobControl, StdioModes, _job_control
from menuchat.client.terminal import TerminalConsole
from tests.client_doubles import RecordingHandler, Screen


def is_raw(fd: int) -> bool:
    local_modes = termios.tcgetattr(fd)[3]
    return not local_modes & (termios.ICANON | termios.ECHO | termios.ISIG)


class FakeReactor:
    """Keeps what signal handlers ask to run in the reactor's thread."""

    def __init__(self) -> None:
        self.calls: list[Callable[[], object]] = []

    def callFromThread(self, f: Callable[[], object]) -> None:
        self.calls.append(f)


class PseudoTerminalTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.master, self.tty = os.openpty()
        self.addCleanup(os.close, self.master)
        self.addCleanup(os.close, self.tty)

    def written(self) -> bytes:
        """What was written to the terminal, as its screen receives it."""
        return os.read(self.master, 4096)


class StdioModesTests(PseudoTerminalTestCase):
    """L{StdioModes} switches the terminal between the shell and us."""

    def test_raw_then_the_shells_then_raw_then_the_shells(self) -> None:
        with StdioModes(self.tty, self.tty, raw=True) as modes:
            self.assertTrue(is_raw(self.tty))
            os.set_blocking(self.tty, False)  # as StandardIO does
            modes.restore()
            self.assertFalse(is_raw(self.tty))
            self.assertTrue(os.get_blocking(self.tty))
            modes.resume()
            self.assertTrue(is_raw(self.tty))
            self.assertFalse(os.get_blocking(self.tty))
        self.assertFalse(is_raw(self.tty))
        self.assertTrue(os.get_blocking(self.tty))

    def test_pipes_get_their_flags_back(self) -> None:
        read, write = os.pipe()
        self.addCleanup(os.close, read)
        self.addCleanup(os.close, write)
        with StdioModes(read, write, raw=False):
            os.set_blocking(read, False)
            os.set_blocking(write, False)
        self.assertTrue(os.get_blocking(read))
        self.assertTrue(os.get_blocking(write))


class JobControlTests(PseudoTerminalTestCase):
    """L{JobControl} stops with the shell's terminal and comes back raw."""

    def setUp(self) -> None:
        super().setUp()
        self.modes = StdioModes(self.tty, self.tty, raw=True)
        self.addCleanup(self.modes.restore)
        self.modes.__enter__()
        os.set_blocking(self.tty, False)
        self.kills: list[tuple[int, int, bool, bool]] = []
        self.shown = 0
        self.job = JobControl(self.modes, self.tty, self.show, kill=self.kill)

    def kill(self, pid: int, signum: int) -> None:
        self.kills.append((pid, signum, is_raw(self.tty), os.get_blocking(self.tty)))

    def show(self) -> None:
        self.shown += 1

    def test_suspend_restores_the_terminal_hides_the_line_then_stops(self) -> None:
        self.job.suspend(b"\r\x1b[J\x1b[4l")
        self.assertEqual(self.written(), b"\r\x1b[J\x1b[4l")
        self.assertEqual(self.kills, [(os.getpid(), signal.SIGTSTP, False, True)])
        self.assertEqual(self.shown, 0)

    def test_resumed_takes_the_terminal_again_and_shows_the_line(self) -> None:
        self.job.suspend(b"")
        self.job.resumed()
        self.assertTrue(is_raw(self.tty))
        self.assertFalse(os.get_blocking(self.tty))
        self.assertEqual(self.shown, 1)


class JobControlSignalTests(PseudoTerminalTestCase):
    """Ctrl-Z is bound, and SIGCONT heard, only while the client runs."""

    def setUp(self) -> None:
        super().setUp()
        self.modes = StdioModes(self.tty, self.tty, raw=True)
        self.addCleanup(self.modes.restore)
        self.modes.__enter__()
        self.console = TerminalConsole(RecordingHandler())
        self.screen = Screen(self.console)
        self.reactor = FakeReactor()
        self.resized = 0

    def resize(self) -> None:
        self.resized += 1

    def test_sigcont_draws_the_input_line_again(self) -> None:
        stopping = signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        self.addCleanup(signal.signal, signal.SIGTSTP, stopping)
        self.console.display([], "> ")
        self.screen.type("half")
        previous = signal.getsignal(signal.SIGCONT)
        with _job_control(
            self.reactor, self.console, self.modes, self.tty, self.resize
        ):
            self.assertIsNotNone(self.console.suspend)
            os.kill(os.getpid(), signal.SIGCONT)
            for _ in range(100):
                if self.reactor.calls:
                    break
                time.sleep(0.01)
            self.assertEqual(len(self.reactor.calls), 1)
            self.modes.restore()
            self.reactor.calls[0]()
            self.assertTrue(is_raw(self.tty))
            self.assertEqual(self.resized, 1)
            self.assertEqual(self.screen.rows()[1:3], ["> half", ""])
        self.assertIsNone(self.console.suspend)
        self.assertEqual(signal.getsignal(signal.SIGCONT), previous)

    def test_no_job_control_when_stopping_is_ignored(self) -> None:
        previous = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
        self.addCleanup(signal.signal, signal.SIGTSTP, previous)
        with _job_control(
            self.reactor, self.console, self.modes, self.tty, self.resize
        ):
            self.assertIsNone(self.console.suspend)
