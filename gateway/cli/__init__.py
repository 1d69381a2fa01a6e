"""The ``xgate`` command. Each sub-command group lives in a module of its own."""
