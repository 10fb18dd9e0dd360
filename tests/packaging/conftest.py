"""Fixtures of the packaging tests: see wheelhouse.py."""

from wheelhouse import dists

__all__ = ["dists"]
