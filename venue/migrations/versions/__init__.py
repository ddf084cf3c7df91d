"""Revision scripts (a package so that ``pip install .`` ships them)."""
