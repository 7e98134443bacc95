"""Revisions of the rogue pattern."""
