"""Register the ``menuchat`` subcommand of twistd."""

from twisted.application.service import ServiceMaker

menuchat = ServiceMaker(
    "menuchat",
    "menuchat.tap",
    "A menu-driven chat server for telnet and the menuchat client.",
    "menuchat",
)
