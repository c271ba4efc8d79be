"""Benchmark harness for menuchat: real server processes, a separate load generator.

Run from the checkout with ``python -m bench`` (or ``python bench/run.py``); see
``bench/README.rst``. Not part of the installed package.
"""
