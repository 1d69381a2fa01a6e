"""Finding, loading and checking organization plugins.

Built-in and third-party plugins are found the same way: entry points in the ``xgate.plugins``
group. Every failure is caught per plugin and turned into one ``PluginError`` naming the plugin
and its distribution; the other plugins still load (a misspelt or unknown hook is found per
plugin too, pluggy's ``check_pending`` run on that plugin alone).

Broadcast hooks are called the pluggy way, ``pm.hook.<name>(**kwargs)``, so ``tryfirst``,
``trylast`` and ``wrapper=True`` implementations behave as pluggy users expect; each
implementation is isolated when its plugin is registered (an exception is logged, masked, and
the other implementations still run), so an observer can never break the operation that fired
the event.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import logging
import os
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel

from gateway import hookspecs
from gateway.contract import (
    PLUGIN_API_VERSION,
    OrganizationSpec,
    api_compatible,
    missing_methods_on_class,
)
from gateway.errors import PluginError
from gateway.masking import mask_text

ENTRY_POINT_GROUP = "xgate.plugins"
log = logging.getLogger("xgate.plugins")


@dataclass(frozen=True)
class LoadedSpec:
    spec: OrganizationSpec
    plugin: str
    distribution: str | None


@dataclass
class PluginHost:
    """The loaded plugins: organization specs by name, load errors, and event dispatch."""

    pm: pluggy.PluginManager
    specs: dict[str, LoadedSpec] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)
    distributions: dict[str, str | None] = field(default_factory=dict)

    def spec(self, name: str) -> LoadedSpec:
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join(sorted(self.specs)) or "none"
            raise PluginError(
                name, f"no organization plugin named {name!r} (loaded: {known})"
            ) from None

    def emit(self, hook: str, **kwargs: Any) -> None:
        """Broadcast an event: ``pm.hook.<hook>(**kwargs)``. Implementations are isolated
        one by one (see the module docstring); this never raises either. A hook no plugin
        implements is not called at all (a sync emits one event per record)."""
        try:
            caller = getattr(self.pm.hook, hook)
            if caller.get_hookimpls():
                caller(**kwargs)
        except Exception as exc:  # pluggy itself (a wrong call): never the operation's problem
            _failed("xgate", hook, exc)


def _failed(plugin: str, hook: str, exc: BaseException) -> None:
    log.error(
        "plugin %s failed in hook %s: %s: %s",
        plugin,
        hook,
        type(exc).__name__,
        mask_text(str(exc)),
    )


def _isolated_call(plugin: str, hook: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            _failed(plugin, hook, exc)
            return None

    return call


def _isolated_wrapper(
    plugin: str, hook: str, function: Callable[..., Any]
) -> Callable[..., Generator[None, Any, Any]]:
    """A hook wrapper whose own errors (before or after its ``yield``) are logged; what the
    other implementations produced passes through unchanged."""

    def wrapper(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        inner: Generator[None, Any, Any] | None = None
        try:
            inner = function(*args, **kwargs)
            next(inner)
        except StopIteration:
            _failed(plugin, hook, RuntimeError("wrapper did not yield"))
            inner = None
        except Exception as exc:
            _failed(plugin, hook, exc)
            inner = None
        try:
            result = yield
        except BaseException:
            if inner is not None:
                inner.close()
            raise
        if inner is None:
            return result
        try:
            inner.send(result)
        except StopIteration as stop:
            return stop.value
        except Exception as exc:
            _failed(plugin, hook, exc)
            return result
        inner.close()
        _failed(plugin, hook, RuntimeError("wrapper yielded twice"))
        return result

    return wrapper


def _isolate(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Wrap this plugin's broadcast hook implementations so one failure stays its own."""
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.name == "xgate_register_organizations":
            continue  # already isolated per plugin by _collect_specs
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            wrap = _isolated_wrapper if impl.wrapper or impl.hookwrapper else _isolated_call
            setattr(impl, "function", wrap(name, caller.name, impl.function))  # noqa: B010


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """``check_pending`` for one plugin: its hook implementations that match no hookspec."""
    return sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or []
        if not caller.has_spec()
        and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls())
    )


def _returning(obj: object) -> Callable[[], object]:
    return lambda: obj


def _disabled() -> set[str]:
    raw = os.environ.get("XGATE_DISABLE_PLUGINS", "")
    return {p.strip() for p in raw.split(",") if p.strip()}


def _dist_name(ep: md.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None
    return f"{dist.metadata['Name']} {dist.version}"


def _check_hooks(pm: pluggy.PluginManager, name: str, plugin: object) -> list[str]:
    """Names of ``xgate_*`` functions on the plugin that match no hookspec (misspelt hooks)."""
    known = {n for n in dir(hookspecs) if n.startswith("xgate_")}
    wrong = []
    for attr in dir(plugin):
        if attr.startswith("xgate_") and attr not in known:
            wrong.append(attr)
    return wrong


def _validate_spec(spec: object) -> OrganizationSpec:
    if not isinstance(spec, OrganizationSpec):
        raise ValueError(f"register() expects an OrganizationSpec, got {type(spec).__name__}")
    if not api_compatible(spec.api_version):
        raise ValueError(
            f"built for plugin API {spec.api_version}, but this xgate provides "
            f"{PLUGIN_API_VERSION}; install a plugin release built for {PLUGIN_API_VERSION}"
        )
    if not (inspect.isclass(spec.settings_model) and issubclass(spec.settings_model, BaseModel)):
        raise ValueError("settings_model must be a pydantic BaseModel subclass")
    if not spec.capabilities:
        raise ValueError("declares no capabilities")
    missing = missing_methods_on_class(spec.factory, spec.capabilities)
    if missing:
        raise ValueError(
            f"adapter {spec.name!r} declares capabilities it does not implement: "
            + ", ".join(missing)
        )
    return spec


def load_plugins(
    entry_points: Callable[[], Iterable[md.EntryPoint]] | None = None,
    extra: Iterable[tuple[str, object]] = (),
) -> PluginHost:
    """Load every plugin; collect per-plugin errors instead of raising.

    ``extra`` registers (name, module-or-object) pairs directly: tests and embedding programs
    use it; production plugins always come from entry points.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm=pm)
    disabled = _disabled()

    eps = list(entry_points() if entry_points else md.entry_points(group=ENTRY_POINT_GROUP))
    candidates: list[tuple[str, Callable[[], object], str | None]] = [
        (ep.name, ep.load, _dist_name(ep)) for ep in eps
    ]
    for extra_name, obj in extra:
        candidates.append((extra_name, _returning(obj), None))

    for name, load, dist in sorted(candidates, key=lambda c: c[0]):
        if name in disabled:
            log.info("plugin %s disabled by XGATE_DISABLE_PLUGINS", name)
            continue
        try:
            plugin = load()
        except Exception as exc:
            host.errors.append(
                PluginError(name, f"cannot be imported: {type(exc).__name__}: {exc}", dist)
            )
            continue
        wrong = _check_hooks(pm, name, plugin)
        if wrong:
            host.errors.append(
                PluginError(
                    name,
                    "implements unknown hook(s) "
                    + ", ".join(wrong)
                    + " (misspelt? known hooks: see gateway.hookspecs)",
                    dist,
                )
            )
            continue
        try:
            pm.register(plugin, name=name)
        except Exception as exc:
            host.errors.append(PluginError(name, f"cannot be registered: {exc}", dist))
            continue
        unknown = _unknown_hooks(pm, plugin)
        if unknown:
            pm.unregister(plugin)
            host.errors.append(
                PluginError(
                    name,
                    "implements hook(s) with no specification: "
                    + ", ".join(unknown)
                    + " (misspelt? known hooks: see gateway.hookspecs)",
                    dist,
                )
            )
            continue
        _isolate(pm, plugin, name)
        host.distributions[name] = dist
        _collect_specs(host, name, dist)
    return host


def _collect_specs(host: PluginHost, name: str, dist: str | None) -> None:
    contributed: list[object] = []
    others = [p for p in host.pm.get_plugins() if host.pm.get_name(p) != name]
    caller = host.pm.subset_hook_caller("xgate_register_organizations", remove_plugins=others)
    try:
        caller(register=contributed.append)
    except Exception as exc:
        host.errors.append(
            PluginError(name, f"failed while registering organizations: {exc}", dist)
        )
        host.pm.unregister(name=name)
        return
    for raw in contributed:
        try:
            spec = _validate_spec(raw)
        except ValueError as exc:
            host.errors.append(PluginError(name, str(exc), dist))
            continue
        if spec.name in host.specs:
            other = host.specs[spec.name].plugin
            host.errors.append(
                PluginError(
                    name, f"organization type {spec.name!r} already provided by {other!r}", dist
                )
            )
            continue
        host.specs[spec.name] = LoadedSpec(spec=spec, plugin=name, distribution=dist)
