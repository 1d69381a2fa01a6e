"""The one place the distribution version lives (read by hatchling and ``xgate --version``)."""

__version__ = "0.1.0"
