"""Tests that attack the library: load, faults, bad input, and nothing lost (issue 7)."""
