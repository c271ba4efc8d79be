"""The menu front-end: the numbered dialogue that telnet, nc and the client use.

Importing this package imports nothing else: the client reads L{texts}.
"""
