"""The chat domain: presence, rooms and their rules, events and errors; no I/O."""
