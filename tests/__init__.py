"""The tests of menuchat: a package, so that trial can import them as pytest does."""
