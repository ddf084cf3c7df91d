"""Fast construction of frozen slots dataclasses (events, commands, specs).

The matching engine builds its events this way on the hot path, and the store's codec its
commands when recovery replays a journal of millions of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["draft_class", "fast_constructor"]

T = TypeVar("T")


def draft_class(cls: type) -> Any:
    """A mutable twin of the frozen slots dataclass ``cls``, to build its instances fast.

    Building a frozen dataclass through its ``__init__`` pays an ``object.__setattr__``
    call per field. Instead the caller instantiates this twin (no ``__init__``), sets its
    slots with plain (specialised) attribute stores, then switches the instance's
    ``__class__`` to ``cls``: the result is an ordinary immutable ``cls`` instance, equal
    to ``cls(*fields)``. The twin is a subclass that adds no slots and restores the
    generic ``__setattr__``, so CPython accepts the switch with its cheapest layout check
    (same base layout) and specialises the stores. Checked once, at import.
    """
    names: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
    draft = type(
        f"_{cls.__name__}Draft",
        (cls,),
        {
            "__slots__": (),
            "__init__": object.__init__,
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        },
    )
    probe = draft()
    for value, name in enumerate(names):
        setattr(probe, name, value)
    probe.__class__ = cls
    if type(probe) is not cls or probe != cls(*range(len(names))):  # pragma: no cover
        raise RuntimeError(f"cannot build {cls.__name__} through a draft")
    return draft


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for a frozen slots dataclass, built on :func:`draft_class`
    (a plain function, several times faster than the dataclass ``__init__``). The hottest
    call sites inline the same steps instead of calling it."""
    names: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
    body = "".join(f"    _o.{name} = {name}\n" for name in names)
    source = (
        f"def _new_{cls.__name__}({', '.join(names)}):\n"
        f"    _o = _draft()\n{body}    _o.__class__ = _cls\n    return _o\n"
    )
    namespace: dict[str, Any] = {}
    # Generated from slot names only.
    exec(source, {"_draft": draft_class(cls), "_cls": cls}, namespace)
    build: Callable[..., T] = namespace[f"_new_{cls.__name__}"]
    return build
