"""Plugin entry point (being built)."""
