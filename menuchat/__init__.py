"""menuchat: a menu-driven TCP chat server on Twisted, for telnet and its client."""
