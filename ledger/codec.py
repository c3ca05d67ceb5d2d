"""How events are stored: orjson bytes, with field types restored from the event classes.

Stored state is plain JSON (ids and times as strings), so projections can read it with
``orjson.loads`` alone. Reconstructing domain events restores ``UUID``, ``datetime``,
``date``, enums, tuples and dataclasses from each event class's type hints.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

Convert = Callable[[Any], Any]


class OrjsonTranscoder(Transcoder):
    """Encodes event state with orjson. Decoding gives plain JSON values."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


def converter_for(tp: Any) -> Convert | None:
    """A function turning the JSON form of a ``tp`` value back into one, or None if the JSON
    form already is one."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is UUID:
        return UUID
    if tp is datetime:
        return datetime.fromisoformat
    if tp is date:
        return date.fromisoformat
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_converter(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) != 1:
            return None
        inner = converter_for(options[0])
        if inner is None:
            return None
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        each = converter_for(args[0]) if args else None
        if each is None:
            return tuple
        return lambda v: tuple(each(x) for x in v)
    if origin is list:
        item = converter_for(args[0]) if args else None
        return None if item is None else (lambda v: [item(x) for x in v])
    if origin is dict and len(args) == 2:
        key, value = converter_for(args[0]), converter_for(args[1])
        if key is None and value is None:
            return None
        k: Convert = key or _identity
        w: Convert = value or _identity
        return lambda v: {k(a): w(b) for a, b in v.items()}
    return None


def _identity(value: Any) -> Any:
    return value


def _dataclass_converter(cls: type) -> Convert:
    hints = typing.get_type_hints(cls)
    fields = {f.name: converter_for(hints[f.name]) for f in dataclasses.fields(cls)}
    convert = {name: c for name, c in fields.items() if c is not None}

    def build(value: Any) -> Any:
        if value is None:
            return None
        return cls(**{k: (convert[k](v) if k in convert else v) for k, v in value.items()})

    return build


@cache
def field_converters(event_class: type) -> tuple[tuple[str, Convert], ...]:
    hints = typing.get_type_hints(event_class)
    hints.pop("return", None)
    pairs = []
    for name, tp in hints.items():
        if name in ("originator_id", "originator_version"):
            continue
        convert = converter_for(tp)
        if convert is not None:
            pairs.append((name, convert))
    return tuple(pairs)


class TypedMapper(Mapper[UUID]):
    """The library's mapper, restoring rich field types after decoding."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event = super().to_domain_event(stored_event)
        state = domain_event.__dict__
        for name, convert in field_converters(type(domain_event)):
            if name in state:
                state[name] = convert(state[name])
        return domain_event
