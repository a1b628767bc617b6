"""apepy: Python, actually portable."""

__version__ = "0.1.0"
