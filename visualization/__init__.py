"""Placeholder package; see the README's layout."""
