"""The conformance kit for organization plugins (pytest plugin)."""
