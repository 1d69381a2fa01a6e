"""xgate plugin for Example Org, a made-up training-and-assessment organization."""

__version__ = "0.1.0"
