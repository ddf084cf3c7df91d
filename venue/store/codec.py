"""JSON encoding of every command and event, for the journal.

The encoding is exact: ``decode_event(encode_event(e)) == e`` for every event, and the
same for commands. A payload is a JSON object whose ``"t"`` member names the type by its
stable *kind* (``"new"``, ``"accepted"`` ...; the same strings fill the ``kind`` columns
of the ``commands`` and ``events`` tables). Other members are the dataclass fields by
name; nested dataclasses (``OrderSpec``, ``Fill``, ``Instrument``, the ``NewOrder`` of a
rejection ...) are nested objects, ``Decimal`` values are strings, enums are their
values (FIX values for the FIX enums), and ``None`` is ``null``.

Decoding fills a missing member from the field's default, so a field added later with a
default still reads old journals; an unknown member is an error (a newer journal must
not be silently misread).

The field tables are built once at import from the dataclass type hints, so encoding is
a dictionary build plus a JSON dump (orjson), and decoding a generated constructor call.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any, Final

import orjson

from venue.commands import (
    AddInstrument,
    AdvanceTime,
    CancelOrder,
    Command,
    EndOfDay,
    MassCancel,
    NewOrder,
    RejectOrder,
    ReplaceOrder,
    SetTradingStatus,
    StatusQuery,
)
from venue.drafts import fast_constructor
from venue.events import (
    CancelRejected,
    Event,
    InstrumentAdded,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderStatusReport,
    OrderTriggered,
    Trade,
    TradingStatusChanged,
)

__all__ = [
    "COMMAND_KINDS",
    "EVENT_KINDS",
    "CodecError",
    "command_from_dict",
    "command_kind",
    "command_to_dict",
    "decode_command",
    "decode_event",
    "encode_command",
    "encode_event",
    "event_from_dict",
    "event_kind",
    "event_to_dict",
]


class CodecError(ValueError):
    """A payload cannot be decoded (unknown kind, unknown member, bad value)."""


COMMAND_KINDS: Final[dict[type[Any], str]] = {
    NewOrder: "new",
    CancelOrder: "cancel",
    ReplaceOrder: "replace",
    MassCancel: "mass_cancel",
    StatusQuery: "status",
    AdvanceTime: "advance_time",
    EndOfDay: "end_of_day",
    SetTradingStatus: "set_trading_status",
    AddInstrument: "add_instrument",
    RejectOrder: "reject",
}
"""Command class -> kind string (stable: stored in the journal)."""

EVENT_KINDS: Final[dict[type[Any], str]] = {
    OrderAccepted: "accepted",
    OrderRejected: "rejected",
    OrderTriggered: "triggered",
    Trade: "trade",
    OrderCancelled: "cancelled",
    OrderReplaced: "replaced",
    OrderExpired: "expired",
    OrderRestated: "restated",
    CancelRejected: "cancel_rejected",
    OrderStatusReport: "status",
    MassCancelDone: "mass_cancel",
    TradingStatusChanged: "trading_status",
    InstrumentAdded: "instrument_added",
}
"""Event class -> kind string (stable: stored in the journal)."""

_COMMANDS_BY_KIND: Final = {kind: cls for cls, kind in COMMAND_KINDS.items()}
_EVENTS_BY_KIND: Final = {kind: cls for cls, kind in EVENT_KINDS.items()}

_Encoder = Callable[[Any], Any]
_Decoder = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _optional(inner: _Decoder) -> _Decoder:
    def decode(value: Any) -> Any:
        return None if value is None else inner(value)

    return decode


def _decoder_for(hint: Any) -> _Decoder | None:
    """A decoder for a field's type, or None when the JSON value is already right."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {hint!r}")
        inner = _decoder_for(args[0])
        return None if inner is None else _optional(inner)
    supertype = getattr(hint, "__supertype__", None)  # NewType
    if supertype is not None:
        return _decoder_for(supertype)
    if isinstance(hint, type):
        if issubclass(hint, Enum):
            return hint
        if issubclass(hint, Decimal):
            return Decimal
        if dataclasses.is_dataclass(hint):
            return _Shape.of(hint).decode
        if hint in (int, str, bool):
            return None
    raise TypeError(f"unsupported field type {hint!r}")


def _needs_encoding(hint: Any) -> bool:
    """True when the field's value is not JSON-native (Decimal, nested dataclass)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_needs_encoding(arg) for arg in typing.get_args(hint))
    supertype = getattr(hint, "__supertype__", None)
    if supertype is not None:
        return _needs_encoding(supertype)
    return isinstance(hint, type) and (issubclass(hint, Decimal) or dataclasses.is_dataclass(hint))


def _strip(hint: Any) -> tuple[Any, bool]:
    """(the type inside Optional/NewType, whether None is allowed)."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    while getattr(hint, "__supertype__", None) is not None:
        hint = hint.__supertype__
    return hint, optional


def _compile_encoder(cls: type[Any], hints: dict[str, Any]) -> _Encoder:
    """Generate ``def encode(o): return {"field": o.field, ...}`` for a dataclass.

    The source is built from the dataclass's field names only; a generated function is
    several times faster than a generic getattr loop, and encoding is on the commit path.
    """
    env: dict[str, Any] = {}
    items: list[str] = []
    for f in dataclasses.fields(cls):
        name = f.name
        expr = f"o.{name}"
        if _needs_encoding(hints[name]):
            inner, optional = _strip(hints[name])
            if issubclass(inner, Decimal):
                expr = f"str(o.{name})"
            else:
                env[f"enc_{name}"] = _Shape.of(inner).encode
                expr = f"enc_{name}(o.{name})"
            if optional:
                expr = f"(None if o.{name} is None else {expr})"
        items.append(f"{name!r}: {expr}")
    source = "def encode(o):\n    return {" + ", ".join(items) + "}\n"
    namespace: dict[str, Any] = {}
    exec(source, env, namespace)  # generated from dataclass field names only
    encoder: _Encoder = namespace["encode"]
    return encoder


class _SlowPathError(Exception):
    """The fast decoder does not apply (missing/unknown member, bad value): use the checked one."""


def _compile_decoder(cls: type[Any], hints: dict[str, Any]) -> _Decoder:
    """Generate ``def decode(d): return cls(d["a"], Enum_b[d["b"]], ...)`` for a dataclass.

    The fast path of decoding (recovery replays every journaled command through it): it
    accepts only a payload with exactly the dataclass's members (plus ``"t"``) and raises
    _SlowPathError for anything else, which the checked decoder then handles or words.
    """
    env: dict[str, Any] = {"cls": cls, "SlowPath": _SlowPathError}
    args: dict[str, str] = {}
    fields = dataclasses.fields(cls)
    for f in fields:
        hint, optional = _strip(hints[f.name])
        value = f"d[{f.name!r}]"
        if isinstance(hint, type) and issubclass(hint, Enum):
            env[f"m_{f.name}"] = {member.value: member for member in hint}
            expr = f"m_{f.name}[{value}]"
        elif isinstance(hint, type) and (
            issubclass(hint, Decimal) or dataclasses.is_dataclass(hint)
        ):
            env[f"dec_{f.name}"] = _decoder_for(hint)
            expr = f"dec_{f.name}({value})"
        else:
            expr = value
        if optional and expr != value:
            expr = f"(None if {value} is None else {expr})"
        args[f.name] = expr
    slots = getattr(cls, "__slots__", None)
    if slots is not None and set(slots) == set(args) and not hasattr(cls, "__post_init__"):
        # a frozen slots dataclass without validation: built through its mutable twin
        env["cls"] = fast_constructor(cls)
        call = f"cls({', '.join(args[name] for name in slots)})"
    else:
        call = f"cls({', '.join(args.values())})"
    source = (
        "def decode(d):\n"
        f"    if len(d) != {len(fields)} + ('t' in d):\n"
        "        raise SlowPath\n"
        "    try:\n"
        f"        return {call}\n"
        "    except (KeyError, TypeError):\n"
        "        raise SlowPath from None\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, env, namespace)  # generated from dataclass field names only
    decoder: _Decoder = namespace["decode"]
    return decoder


class _Shape:
    """The compiled field table of one dataclass."""

    _cache: typing.ClassVar[dict[type[Any], _Shape]] = {}

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        self.names: frozenset[str] = frozenset(f.name for f in fields)
        self.encode: _Encoder = _compile_encoder(cls, hints)
        self.decoders: dict[str, _Decoder] = {}
        for f in fields:
            decoder = _decoder_for(hints[f.name])
            if decoder is not None:
                self.decoders[f.name] = decoder
        self.fast_decode: _Decoder = _compile_decoder(cls, hints)

    @classmethod
    def of(cls, klass: type[Any]) -> _Shape:
        shape = cls._cache.get(klass)
        if shape is None:
            shape = cls._cache[klass] = _Shape(klass)
        return shape

    def decode(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise CodecError(f"{self.cls.__name__}: expected an object, got {data!r}")
        try:
            return self.fast_decode(data)
        except (_SlowPathError, ValueError, ArithmeticError):
            return self._checked_decode(data)  # decodes it, or words what is wrong

    def _checked_decode(self, data: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {}
        decoders = self.decoders
        try:
            for name, value in data.items():
                if name == "t":
                    continue
                if name not in self.names:
                    raise CodecError(f"{self.cls.__name__}: unknown member {name!r}")
                decoder = decoders.get(name)
                kwargs[name] = value if decoder is None else decoder(value)
            return self.cls(**kwargs)
        except CodecError:
            raise
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise CodecError(f"{self.cls.__name__}: {exc}") from exc


_std_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(obj: Any) -> str:
    """Compact JSON (``separators=(",", ":")``, ``ensure_ascii=False``).

    orjson is about seven times faster than the standard encoder on these payloads, and
    encoding is on the commit path; it refuses integers beyond 64 bits (a NewOrder can
    carry any quantity the FIX layer parsed), which the standard encoder then writes.
    """
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return _std_dumps(obj)


def _json_loads(payload: str | bytes) -> Any:
    """orjson's parser, except for a payload with an integer beyond 64 bits: orjson reads it
    as a float, and the venue writes no floats, so a float means the standard parser, which
    keeps the integer exact, must read that payload."""
    data = orjson.loads(payload)
    if _has_float(data):
        return json.loads(payload)
    return data


def _has_float(value: Any) -> bool:
    values = value.values() if type(value) is dict else value
    kinds = set(map(type, values))
    if float in kinds:
        return True
    if dict in kinds or list in kinds:
        return any(_has_float(v) for v in values if type(v) is dict or type(v) is list)
    return False


def command_kind(cmd: Command) -> str:
    """The stable kind string of a command (the ``commands.kind`` column)."""
    return COMMAND_KINDS[type(cmd)]


def event_kind(event: Event) -> str:
    """The stable kind string of an event (the ``events.kind`` column)."""
    return EVENT_KINDS[type(event)]


_ENCODERS: Final[dict[type[Any], tuple[_Encoder, str]]] = {
    cls: (_Shape.of(cls).encode, kind)
    for cls, kind in (*COMMAND_KINDS.items(), *EVENT_KINDS.items())
}


def command_to_dict(cmd: Command) -> dict[str, Any]:
    """A JSON-safe dict for a command, with its kind under ``"t"``."""
    encode, kind = _ENCODERS[type(cmd)]
    out: dict[str, Any] = encode(cmd)
    out["t"] = kind
    return out


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-safe dict for an event, with its kind under ``"t"``."""
    encode, kind = _ENCODERS[type(event)]
    out: dict[str, Any] = encode(event)
    out["t"] = kind
    return out


def command_from_dict(data: dict[str, Any]) -> Command:
    cls = _COMMANDS_BY_KIND.get(data.get("t", ""))
    if cls is None:
        raise CodecError(f"unknown command kind {data.get('t')!r}")
    cmd: Command = _Shape.of(cls).decode(data)
    return cmd


def event_from_dict(data: dict[str, Any]) -> Event:
    cls = _EVENTS_BY_KIND.get(data.get("t", ""))
    if cls is None:
        raise CodecError(f"unknown event kind {data.get('t')!r}")
    event: Event = _Shape.of(cls).decode(data)
    return event


def encode_command(cmd: Command) -> str:
    """The command as a compact JSON string."""
    return _dumps(command_to_dict(cmd))


def encode_event(event: Event) -> str:
    """The event as a compact JSON string."""
    return _dumps(event_to_dict(event))


def _loads(payload: str | bytes) -> dict[str, Any]:
    try:
        data = _json_loads(payload)
    except ValueError as exc:
        raise CodecError(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CodecError("payload is not a JSON object")
    return data


def decode_command(payload: str | bytes) -> Command:
    """Inverse of :func:`encode_command`; raises CodecError on a bad payload."""
    return command_from_dict(_loads(payload))


def decode_event(payload: str | bytes) -> Event:
    """Inverse of :func:`encode_event`; raises CodecError on a bad payload."""
    return event_from_dict(_loads(payload))
