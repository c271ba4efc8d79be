"""``python -m menuchat.client``."""

from menuchat.client import run

run()
