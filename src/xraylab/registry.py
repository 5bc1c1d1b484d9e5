"""One small name → factory registry, reused by every family (corruptions, models, augmentation strategies,
evaluation suites, physics presets).

A family is a :class:`Registry`; entries are added with :meth:`Registry.register` (a decorator or a plain call)
and read back with :meth:`Registry.get` / :meth:`Registry.create` / :meth:`Registry.names`. An unknown name is a
:class:`~xraylab.errors.ConfigError` that lists the registered names, so ``--help`` texts and error messages
come from the same list. Modules that register built-in entries are imported lazily on first use
(``builtin_modules``), which keeps ``import xraylab`` light and makes ``names()`` complete.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, Iterator, TypeVar

from xraylab.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one family, in registration order.

    ``kind``: what an entry is, for messages (``"corruption"``, ``"model"``); ``builtin_modules``: dotted module
    names imported before the first look-up (their import registers the built-in entries).
    """

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()):
        self.kind = kind
        self._builtin_modules = builtin_modules
        self._entries: dict[str, T] = {}
        self._loaded = not builtin_modules

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # set first: a built-in module may look names up while it registers
            try:
                for mod in self._builtin_modules:
                    importlib.import_module(mod)
            except BaseException:
                self._loaded = False  # a failed import must fail every look-up, not leave a partial registry
                raise

    def register(self, name: str, entry: T | None = None) -> Any:
        """Register ``entry`` under ``name``; without ``entry`` return a decorator that registers its argument.

        A second registration of one name with a different entry is a ``ValueError`` (a programming error).
        """

        def add(obj: T) -> T:
            if not name:
                raise ValueError(f"a {self.kind} needs a non-empty name")
            old = self._entries.get(name)
            if old is not None and not _same_entry(old, obj):
                raise ValueError(f"{self.kind} name {name!r} registered twice")
            self._entries[name] = obj
            return obj

        if entry is not None:
            return add(entry)
        return add

    def get(self, name: str) -> T:
        """The entry registered as ``name``; ``ConfigError`` listing the valid names otherwise."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._entries)}") from None

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the entry registered as ``name`` (a class or factory) with ``args`` / ``kwargs``."""
        factory: Callable[..., Any] = self.get(name)  # type: ignore[assignment]
        return factory(*args, **kwargs)

    def names(self) -> list[str]:
        """Registered names in registration order."""
        self._load()
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` pairs in registration order."""
        self._load()
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)


def _same_entry(old: Any, new: Any) -> bool:
    """True when ``new`` re-registers ``old``: the same object, an equal value, or the same named class or
    function defined again (a module imported twice, e.g. by a test runner)."""
    if old is new:
        return True
    try:
        if old == new:
            return True
    except Exception:  # pragma: no cover - exotic __eq__
        pass
    qual = getattr(new, "__qualname__", "<")
    return "<" not in qual and (getattr(old, "__module__", None), getattr(old, "__qualname__", None)) == (
        getattr(new, "__module__", None), qual)


def registered_name(where: str, what: str) -> Any:
    """A pydantic validator for a field that must name an entry of the registry (or mapping) at ``where``
    (``"module:ATTRIBUTE"``, imported on first validation so that specs stay cheap to import); the error lists
    the valid names. Use as ``field: Annotated[str, registered_name("xraylab.train.models:MODELS", "model")]``."""
    from importlib import import_module

    from pydantic import AfterValidator

    module, attr = where.split(":")

    def check(value: str) -> str:
        names = list(getattr(import_module(module), attr))
        if value not in names:
            raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(names)}")
        return value

    return AfterValidator(check)
