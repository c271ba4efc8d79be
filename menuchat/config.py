"""The limits of a server: one frozen value, every field an option of the plugin."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Limits"]

_COUNT: Any = [attrs.validators.instance_of(int), attrs.validators.ge(1)]
_AMOUNT: Any = [attrs.validators.instance_of((int, float)), attrs.validators.ge(0)]


@attrs.frozen
class Limits:
    """Every limit of a server; 0 disables the rate and the timeouts.

    The connection limits (line length, rate, output, timeouts, clients)
    apply to every line-based front-end; the rest are the hub's rules.
    """

    max_line_length: int = attrs.field(default=2048, validator=_COUNT)
    line_rate: float = attrs.field(default=10.0, validator=_AMOUNT)
    line_burst: int = attrs.field(default=40, validator=_COUNT)
    max_output: int = attrs.field(default=1024 * 1024, validator=_COUNT)
    login_timeout: float = attrs.field(default=60.0, validator=_AMOUNT)
    idle_timeout: float = attrs.field(default=0.0, validator=_AMOUNT)
    close_timeout: float = attrs.field(default=10.0, validator=_AMOUNT)
    max_clients: int = attrs.field(default=10000, validator=_COUNT)
    max_per_address: int = attrs.field(default=100, validator=_COUNT)
    max_rooms: int = attrs.field(default=1000, validator=_COUNT)
    max_room_members: int = attrs.field(default=1000, validator=_COUNT)
    mailbox_size: int = attrs.field(default=100, validator=_COUNT)
    room_history: int = attrs.field(
        default=50,
        validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)],
    )
