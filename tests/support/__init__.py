"""Helpers shared by the test suites (importable as ``support``: tests/conftest.py puts the
tests directory on sys.path, since the test directories are not packages and pytest runs
with --import-mode=importlib)."""
