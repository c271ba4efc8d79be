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
    "hold": _CAPS,
    "storm": _CAPS,
    "logins": _CAPS,
    # Through the IRC gateway, which has the same connection limits.
    "ircfanout": _NO_FLOOD + _CAPS + _ROOM,
    "ircpaced": _NO_FLOOD + _CAPS,
}


#: Scenarios that reach the store (private mail): these run menuchat on the
#: SQLite store too ("menuchat-sqlite"), beside the memory store ("menuchat").
STORE_SCENARIOS = {"private", "paced"}

#: Scenarios that need accounts made in the store before the server starts:
#: they run on the SQLite store only ("menuchat-sqlite", against the floor).
ACCOUNT_SCENARIOS = {"logins"}

#: Scenarios run through IRC: menuchat's gateway ("menuchat-irc") against
#: ngIRCd ("ngircd", the base of their ratio) instead of the menu and floor.
IRC_SCENARIOS = {"ircfanout", "ircpaced"}

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
    ],
    "paced": [
        Figure("p50_ms", "send->notice p50 ms", "{:.2f}"),
        Figure("p99_ms", "send->notice p99 ms", "{:.2f}"),
        Figure("messages_per_s", "messages/s"),
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
    "hold": "hold idle clients",
    "storm": "login storm",
    "logins": "logins, guest/registered",
    "ircfanout": "IRC fan-out (1 sender)",
    "ircpaced": "IRC private, fixed load",
}

SIZE_LABEL = {
    "fanout": "R",
    "busy": "R",
    "private": "pairs",
    "paced": "pairs",
    "hold": "N",
    "storm": "N",
    "logins": "N",
    "ircfanout": "R",
    "ircpaced": "pairs",
}

#: IRC fan-out's window of lines in flight: ngIRCd closes a client with
#: 2048 bytes of unprocessed input, and 20 lines of 48 bytes stay under it.
IRC_WINDOW = ["--window", "20"]


@dataclass(frozen=True)
class Case:
    """One scenario at one size: the loadgen arguments and its hard timeout."""

    scenario: str
    size: int
    args: list[str] = field(default_factory=list)
    step_timeout: float = 60.0
    hard_timeout: float = 240.0

    @property
    def label(self) -> str:
        """e.g. "R=500"."""
        return f"{SIZE_LABEL[self.scenario]}={self.size}"


def full_plan() -> list[Case]:
    """The full run: about 5 minutes per repeat on 2 cores."""
    cases = [
        Case("fanout", r, ["--duration", "3"], 60, 180) for r in (10, 100, 500, 1000)
    ]
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
    cases += [Case("hold", n, [], 120, 300) for n in (1000, 5000, 10000)]
    cases += [Case("storm", n, [], 60, 200) for n in (100, 1000, 5000, 10000)]
    # Password checks (scrypt, in threads) bound the registered logins.
    cases.append(Case("logins", 200, ["--concurrency", "40"], 120, 300))
    cases += [
        Case("ircfanout", r, ["--duration", "3", *IRC_WINDOW], 60, 180)
        for r in (100, 500)
    ]
    cases.append(Case("ircpaced", 100, ["--rate", "10", "--duration", "5"], 60, 180))
    return cases


def quick_plan() -> list[Case]:
    """Every scenario, tiny: completion and zero loss, in a few seconds each."""
    return [
        Case("fanout", 5, ["--duration", "0.3"], 10, 40),
        Case("fanout", 20, ["--duration", "0.3"], 10, 40),
        Case(
            "busy",
            20,
            ["--senders", "4", "--rate", "10", "--probes", "4", "--duration", "0.5"],
            10,
            40,
        ),
        Case("private", 5, ["--duration", "0.3"], 10, 40),
        Case("paced", 5, ["--rate", "10", "--duration", "0.5"], 10, 40),
        Case("hold", 50, ["--settle", "0.1"], 10, 40),
        Case("storm", 50, [], 10, 40),
        Case("logins", 10, ["--concurrency", "5"], 20, 60),
        Case("ircfanout", 5, ["--duration", "0.3", *IRC_WINDOW], 10, 40),
        Case("ircfanout", 20, ["--duration", "0.3", *IRC_WINDOW], 10, 40),
        Case("ircpaced", 5, ["--rate", "10", "--duration", "0.5"], 10, 40),
    ]
