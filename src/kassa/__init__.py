"""kassa: a self-hostable payments platform."""

__version__ = "0.1.0"
