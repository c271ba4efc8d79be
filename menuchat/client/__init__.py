"""The menuchat terminal client.

``menuchat-client [HOST PORT | --connect ENDPOINT [--cafile FILE]]``, or ``python -m
menuchat.client``. Of the server's code it imports only
L{menuchat.frontends.menu.texts}, the dialogue's phrases.
"""

from menuchat.client.conversation import run

__all__ = ["run"]
