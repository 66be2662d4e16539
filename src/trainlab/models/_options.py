"""Model options checked against the builder's own signature, before anything is built.

A builder's keyword-only parameters are its options; their annotations (or, without one, the
type of the default) say what a value must be:

    bool                       true/false, yes/no, 1/0 (a typed `--option use_residual=maybe`
                               is refused, not read as "true")
    int, float, str
    tuple[int, ...]            a list such as [4,8,8] (also written 4,8,8; one number is a list
                               of one); tuple[int, int, int]: exactly three
    Literal["imagenet", ...]   one of the listed choices

Values arrive as typed YAML (a run's config.yaml) or as the strings typed after `--option KEY=`;
both become the same plain, YAML-friendly value (lists, not tuples).
"""
from __future__ import annotations

import inspect
import typing

TRUE_WORDS, FALSE_WORDS = ("true", "yes", "1"), ("false", "no", "0")


class ModelOptionError(ValueError):
    """An option value of the wrong type or outside its choices; names the option."""


def option_types(builder) -> dict[str, object]:
    """{option name: expected type} for a builder's keyword-only parameters."""
    hints = typing.get_type_hints(builder)
    common = {"in_channels", "num_classes", "input_size"}
    types = {}
    for p in inspect.signature(builder).parameters.values():
        if p.kind is p.KEYWORD_ONLY and p.name not in common:
            types[p.name] = hints.get(p.name, type(p.default))
    return types


def describe_type(kind) -> str:
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(kind)))
    if typing.get_origin(kind) in (tuple, list):
        args = typing.get_args(kind)
        items = describe_type(args[0]).replace("a whole number", "whole numbers")
        count = "" if len(args) == 1 or args[-1] is Ellipsis else f"{len(args)} "
        return f"a list of {count}{items}, e.g. [{', '.join(['32'] * (len(args) if count else 2))}]"
    return {bool: "true or false (or yes/no, 1/0)", int: "a whole number", float: "a number",
            str: "a text"}.get(kind, getattr(kind, "__name__", str(kind)))


def convert_option(value, kind):
    """`value` as `kind`, or ValueError."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        if value not in typing.get_args(kind):
            raise ValueError
        return value
    if origin in (tuple, list):
        item = typing.get_args(kind)[0]
        if isinstance(value, str):
            text = value.strip()
            if (text.startswith("[") and text.endswith("]")) or \
                    (text.startswith("(") and text.endswith(")")):
                text = text[1:-1]
            value = [part for part in (s.strip() for s in text.split(",")) if part]
        elif not isinstance(value, (list, tuple)):
            value = [value]
        args = typing.get_args(kind)
        fixed = len(args) > 1 and args[-1] is not Ellipsis
        if not value or (fixed and len(value) != len(args)):
            raise ValueError
        return [convert_option(v, item) for v in value]
    if kind is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError
    if kind is int:
        if isinstance(value, (bool, float)):
            raise ValueError
        return int(value.strip()) if isinstance(value, str) else int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError
        return value
    return value  # a type this checker does not know: the builder checks it


def check_options(model: str, builder, options: dict) -> dict:
    """The options converted to their types; ModelOptionError naming the first bad one."""
    types = option_types(builder)
    unknown = sorted(set(options) - set(types))
    if unknown:
        raise ModelOptionError(f"model {model!r} has no option(s) {', '.join(unknown)}; it "
                               f"accepts: {', '.join(types) or 'none'}")
    checked = {}
    for key, value in options.items():
        try:
            checked[key] = convert_option(value, types[key])
        except (ValueError, TypeError):
            raise ModelOptionError(f"--option {key}={value}: model {model!r} needs "
                                   f"{key} to be {describe_type(types[key])}") from None
    return checked
