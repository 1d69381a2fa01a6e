"""Broken on purpose: a hook name with a typo."""

from gateway import hookimpl


@hookimpl
def xgate_register_organisations(register: object) -> None:  # 's' instead of 'z'
    pass
