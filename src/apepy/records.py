"""Dataclasses to JSON and back: the records apepy writes into its cache and its files.

One pair for every record: ``to_json(obj)`` and ``from_json(cls, data)``. The JSON
is what the records wrote by hand before this module, byte for byte, so files and
cache entries made by earlier versions still read:

- a dataclass is an object with its fields in declaration order (``sort_keys``
  sorts them, as some records always have); a NamedTuple is an object too;
- tuples and lists are arrays, a Path is its string, None is null;
- reading, a field missing from the data takes its default, a tuple field without
  one reads as empty, and keys the class does not know are ignored (a newer
  apepy's record still reads); a value of the wrong type is a TypeError, of the
  wrong shape a ValueError or TypeError, so callers can treat both as "damaged";
- reading ``strict``ly (a format one apepy writes and reads in the same run, such as
  the compiler wrapper's records), a key the class does not know or a field missing
  from the data is a ValueError too: a renamed key fails instead of reading empty.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path, PurePath
from typing import Any, TypeVar

T = TypeVar("T")


def to_data(obj: object) -> object:
    """``obj`` as plain JSON values (dicts, lists, strings, numbers, booleans, None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        names: tuple[str, ...] = type(obj)._fields  # type: ignore[attr-defined]
        return {name: to_data(value) for name, value in zip(names, obj, strict=True)}
    if isinstance(obj, list | tuple):
        return [to_data(item) for item in obj]
    if isinstance(obj, dict):
        return {str(key): to_data(value) for key, value in obj.items()}
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if obj is None or isinstance(obj, str | int | float):
        return obj
    raise TypeError(f"{type(obj).__name__} is not a record value")


def to_json(obj: object, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """The JSON text of a record (``json.dumps``'s own separators and escapes)."""
    return json.dumps(to_data(obj), indent=indent, sort_keys=sort_keys)


def from_json(cls: type[T], data: str | bytes | object, *, strict: bool = False) -> T:
    """The record of type ``cls`` that ``data`` holds: JSON text, or values already parsed."""
    if isinstance(data, str | bytes):
        data = json.loads(data)
    return typing.cast(T, _read(cls, data, cls.__name__, strict))


def fields(cls: type) -> tuple[str, ...]:
    """The keys a ``cls`` record is written with, in order."""
    return tuple(f.name for f in dataclasses.fields(cls))


def readable(cls: type, data: str | bytes) -> bool:
    """Does ``data`` hold a whole ``cls`` record? (False: damaged, or not JSON at all.)"""
    try:
        from_json(cls, data)
    except (ValueError, TypeError):
        return False
    return True


def _read(hint: Any, data: object, where: str, strict: bool = False) -> object:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        if len(arms) == 1:
            return _read(arms[0], data, where, strict)
        return data
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _read_fields(hint, data, where, strict)
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        return _read_fields(hint, data, where, strict)
    if origin is tuple:
        items = _expect(list, data, where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(
                _read(args[0], item, f"{where}[{i}]", strict) for i, item in enumerate(items)
            )
        if len(items) != len(args):
            raise ValueError(f"{where}: {len(items)} items, expected {len(args)}")
        return tuple(
            _read(a, item, f"{where}[{i}]", strict)
            for i, (a, item) in enumerate(zip(args, items, strict=True))
        )
    if origin is list:
        items = _expect(list, data, where)
        return (
            [_read(args[0], item, f"{where}[{i}]", strict) for i, item in enumerate(items)]
            if args
            else items
        )
    if origin is dict:
        table = _expect(dict, data, where)
        if not args:
            return table
        return {
            key: _read(args[1], value, f"{where}.{key}", strict) for key, value in table.items()
        }
    if hint is Path:
        return Path(_expect(str, data, where))
    if hint is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise TypeError(f"{where}: expected a number, got {type(data).__name__}")
        return data
    if hint is int:
        if isinstance(data, bool):
            raise TypeError(f"{where}: expected a whole number, got a boolean")
        return _expect(int, data, where)
    if isinstance(hint, type):
        return _expect(hint, data, where)
    return data


def _read_fields(cls: Any, data: object, where: str, strict: bool) -> object:
    table = _expect(dict, data, where)
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        defaulted = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        }
    else:
        names = list(cls._fields)
        defaulted = set(cls._field_defaults)
    if strict:
        unknown = sorted(set(table) - set(names))
        absent = [name for name in names if name not in table]
        if unknown or absent:
            raise ValueError(
                f"{where}: "
                + "; ".join(
                    [
                        *([f"unknown {', '.join(map(repr, unknown))}"] if unknown else []),
                        *([f"no {', '.join(map(repr, absent))}"] if absent else []),
                    ]
                )
            )
    for name in names:
        if name in table:
            values[name] = _read(hints[name], table[name], f"{where}.{name}", strict)
        elif name not in defaulted and typing.get_origin(hints[name]) is tuple:
            values[name] = ()
        elif name not in defaulted:
            raise ValueError(f"{where}: no {name!r}")
    return cls(**values)


def _expect(kind: type[T], data: object, where: str) -> T:
    if not isinstance(data, kind):
        raise TypeError(f"{where}: expected {kind.__name__}, got {type(data).__name__}")
    return data
