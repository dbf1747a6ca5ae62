"""Plain helpers the test modules share (no fixtures, no tests: those live in conftest.py)."""
