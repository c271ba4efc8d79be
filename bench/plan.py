"""What a run measures: the cases (scenario and size), their options and figures.

Each case runs against a fresh server process of each kind; menuchat gets only
the options its scenario needs raised, listed in `RAISED` and in the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Per-address and total caps raised so one load generator on 127.0.0.1
#: can open every connection of a case.
_CAPS = ["--max-per-address", "100000", "--max-clients", "100000"]
_ROOM = ["--max-room-members", "100000"]
_NO_FLOOD = ["--line-rate", "0"]

#: menuchat options per scenario (everything else stays at its default).
RAISED: dict[str, list[str]] = {
    "fanout": _NO_FLOOD + _CAPS + _ROOM,
    "busy": _CAPS + _ROOM,
    "private": _NO_FLOOD + _CAPS,
    "paced": _NO_FLOOD + _CAPS,
    "pingpong": _NO_FLOOD + _CAPS,
    "hold": _CAPS,
    "storm": _CAPS,
    "logins": _CAPS,
    # Through the IRC gateway, which has the same connection limits.
    "ircfanout": _NO_FLOOD + _CAPS + _ROOM,
    "ircpaced": _NO_FLOOD + _CAPS,
    "ircpingpong": _NO_FLOOD + _CAPS,
}


#: Scenarios that reach the store (private mail): these run menuchat on the
#: SQLite store too ("menuchat-sqlite"), beside the memory store ("menuchat").
STORE_SCENARIOS = {"private", "paced"}

#: Scenarios that need accounts made in the store before the server starts:
#: they run on the SQLite store only ("menuchat-sqlite", against the floor).
ACCOUNT_SCENARIOS = {"logins"}

#: Scenarios run through IRC: menuchat's gateway ("menuchat-irc") against
#: ngIRCd ("ngircd", the base of their ratio) instead of the menu and floor.
IRC_SCENARIOS = {"ircfanout", "ircpaced", "ircpingpong"}

#: Every kind of server, and the ones a case runs.
KINDS = ("menuchat", "menuchat-sqlite", "floor", "menuchat-irc", "ngircd")
IRC_KINDS = ("menuchat-irc", "ngircd")


def kinds_for(scenario: str, wanted: list[str]) -> list[str]:
    """The kinds of C{wanted} that run C{scenario}."""
    if scenario in IRC_SCENARIOS:
        return [k for k in wanted if k in IRC_KINDS]
    if scenario in ACCOUNT_SCENARIOS:
        return [k for k in wanted if k in ("menuchat-sqlite", "floor")]
    return [
        k
        for k in wanted
        if k not in IRC_KINDS
        and (k != "menuchat-sqlite" or scenario in STORE_SCENARIOS)
    ]


def compared(scenario: str) -> tuple[str, str]:
    """The kind measured and the kind it is a ratio to, for C{scenario}."""
    if scenario in IRC_SCENARIOS:
        return "menuchat-irc", "ngircd"
    if scenario in ACCOUNT_SCENARIOS:
        return "menuchat-sqlite", "floor"
    return "menuchat", "floor"


def loadgen_args(scenario: str, kind: str) -> tuple[str, str]:
    """The load generator's driver and scenario for a case of C{kind}."""
    driver = {"menuchat-sqlite": "menuchat", "menuchat-irc": "irc"}.get(kind, kind)
    return driver, scenario.removeprefix("irc")


@dataclass(frozen=True)
class Figure:
    """One reported figure: the loadgen's key, its label and number format."""

    key: str
    label: str
    fmt: str = "{:,.0f}"


FIGURES: dict[str, list[Figure]] = {
    "fanout": [
        Figure("deliveries_per_s", "deliveries/s"),
        Figure("cpu_us_per_delivery", "server CPU us/delivery", "{:.2f}"),
    ],
    "busy": [
        Figure("p50_ms", "latency p50 ms", "{:.1f}"),
        Figure("p99_ms", "latency p99 ms", "{:.1f}"),
        Figure("deliveries_per_s", "deliveries/s"),
    ],
    "private": [
        Figure("messages_per_s", "messages/s"),
        Figure("p99_ms", "send->notice p99 ms", "{:.2f}"),
        Figure("reactor_us_per_message", "reactor CPU us/msg", "{:.2f}"),
    ],
    "paced": [
        Figure("p50_ms", "send->notice p50 ms", "{:.2f}"),
        Figure("p99_ms", "send->notice p99 ms", "{:.2f}"),
        Figure("messages_per_s", "messages/s"),
    ],
    "pingpong": [
        Figure("p50_ms", "round trip p50 ms", "{:.2f}"),
        Figure("p99_ms", "round trip p99 ms", "{:.2f}"),
        Figure("round_trips_per_s", "round trips/s"),
        Figure("cpu_us_per_round_trip", "server CPU us/round trip", "{:.1f}"),
    ],
    "hold": [
        Figure("login_s", "time to log in all s", "{:.2f}"),
        Figure("kib_per_conn", "server RSS KiB/conn", "{:.1f}"),
    ],
    "storm": [
        Figure("all_s", "time until all at menu s", "{:.2f}"),
        Figure("p50_s", "median client at menu s", "{:.2f}"),
    ],
    "logins": [
        Figure("registered_logins_per_s", "registered logins/s"),
        Figure("guest_logins_per_s", "guest logins/s"),
        Figure("registered_cpu_ms", "server CPU ms/registered", "{:.2f}"),
        Figure("guest_cpu_ms", "server CPU ms/guest", "{:.2f}"),
    ],
}
FIGURES["ircfanout"] = FIGURES["fanout"]
FIGURES["ircpingpong"] = FIGURES["pingpong"]
FIGURES["ircpaced"] = [
    Figure("p50_ms", "send->PRIVMSG p50 ms", "{:.2f}"),
    Figure("p99_ms", "send->PRIVMSG p99 ms", "{:.2f}"),
    Figure("messages_per_s", "messages/s"),
]

TITLES = {
    "fanout": "fan-out (1 sender)",
    "busy": "busy room",
    "private": "private messages",
    "paced": "private, fixed load",
    "pingpong": "small rooms ping-pong",
    "hold": "hold idle clients",
    "storm": "login storm",
    "logins": "logins, guest/registered",
    "ircfanout": "IRC fan-out (1 sender)",
    "ircpaced": "IRC private, fixed load",
    "ircpingpong": "IRC small rooms ping-pong",
}

SIZE_LABEL = {
    "fanout": "R",
    "busy": "R",
    "private": "pairs",
    "paced": "pairs",
    "pingpong": "rooms",
    "hold": "N",
    "storm": "N",
    "logins": "N",
    "ircfanout": "R",
    "ircpaced": "pairs",
    "ircpingpong": "rooms",
}

#: IRC fan-out's window of lines in flight: ngIRCd closes a client with
#: 2048 bytes of unprocessed input, and 20 lines of 48 bytes stay under it.
#: Its sends carry 5 lines each (a quarter of that window).
IRC_WINDOW = ["--window", "20", "--batch", "5"]

#: Fan-out's sender batch sizes, in lines per send(): a client writing one
#: line at a time, 32 (what an independent harness used) and 256.
BATCHES = (1, 32, 256)


@dataclass(frozen=True)
class Case:
    """One scenario at one size: the loadgen arguments and its hard timeout."""

    scenario: str
    size: int
    args: list[str] = field(default_factory=list)
    step_timeout: float = 60.0
    hard_timeout: float = 240.0
    #: What sets this case apart from others of its size, e.g. "batch 32".
    variant: str = ""

    @property
    def label(self) -> str:
        """e.g. "R=500" or "R=500 batch 32"."""
        size = f"{SIZE_LABEL[self.scenario]}={self.size}"
        return f"{size} {self.variant}" if self.variant else size


def fanout_case(size: int, batch: int, duration: str, step: float, hard: float) -> Case:
    """Fan-out in a room of C{size}, its sender writing C{batch} lines per send."""
    return Case(
        "fanout",
        size,
        ["--duration", duration, "--batch", str(batch)],
        step,
        hard,
        variant=f"batch {batch}",
    )


def full_plan() -> list[Case]:
    """The full run: about 5 minutes per repeat on 2 cores."""
    cases = [fanout_case(10, 32, "3", 60, 180)]
    cases += [fanout_case(r, b, "3", 60, 180) for r in (100, 500) for b in BATCHES]
    cases.append(fanout_case(1000, 32, "3", 60, 180))
    cases.append(
        Case(
            "busy",
            500,
            ["--senders", "50", "--rate", "10", "--probes", "50", "--duration", "5"],
            90,
            300,
        )
    )
    cases += [Case("private", p, ["--duration", "3"], 60, 180) for p in (10, 100)]
    # 100 pairs, 10 messages a second each: the same offered load for both.
    cases.append(Case("paced", 100, ["--rate", "10", "--duration", "5"], 60, 180))
    # 100 two-member rooms, 10 round trips a second each: 1,000 a second.
    cases.append(Case("pingpong", 100, _PINGPONG, 60, 180))
    cases += [Case("hold", n, [], 120, 300) for n in (1000, 5000, 10000)]
    cases += [Case("storm", n, [], 60, 200) for n in (100, 1000, 5000, 10000)]
    # Password checks (scrypt, in threads) bound the registered logins.
    cases.append(Case("logins", 200, ["--concurrency", "40"], 120, 300))
    cases += [
        Case("ircfanout", r, ["--duration", "3", *IRC_WINDOW], 60, 180)
        for r in (100, 500)
    ]
    cases.append(Case("ircpaced", 100, ["--rate", "10", "--duration", "5"], 60, 180))
    cases.append(Case("ircpingpong", 100, _PINGPONG, 60, 180))
    return cases


_PINGPONG = ["--rate", "10", "--duration", "5"]


def quick_plan() -> list[Case]:
    """Every scenario, tiny: completion and zero loss, in a few seconds each."""
    return [
        fanout_case(5, 1, "0.3", 10, 40),
        fanout_case(20, 32, "0.3", 10, 40),
        fanout_case(20, 256, "0.3", 10, 40),
        Case(
            "busy",
            20,
            ["--senders", "4", "--rate", "10", "--probes", "4", "--duration", "0.5"],
            10,
            40,
        ),
        Case("private", 5, ["--duration", "0.3"], 10, 40),
        Case("paced", 5, ["--rate", "10", "--duration", "0.5"], 10, 40),
        Case("pingpong", 5, ["--rate", "20", "--duration", "0.5"], 10, 40),
        Case("hold", 50, ["--settle", "0.1"], 10, 40),
        Case("storm", 50, [], 10, 40),
        Case("logins", 10, ["--concurrency", "5"], 20, 60),
        Case("ircfanout", 5, ["--duration", "0.3", *IRC_WINDOW], 10, 40),
        Case("ircfanout", 20, ["--duration", "0.3", *IRC_WINDOW], 10, 40),
        Case("ircpaced", 5, ["--rate", "10", "--duration", "0.5"], 10, 40),
        Case("ircpingpong", 5, ["--rate", "20", "--duration", "0.5"], 10, 40),
    ]
