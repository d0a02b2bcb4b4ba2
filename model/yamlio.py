"""Reading the YAML input files (framework, method, uncertainty space): bounded and strict.

Every YAML file is read by :func:`load_yaml`, which

* refuses a file larger than :data:`MAX_YAML_BYTES`, a document whose aliases expand it beyond
  :data:`MAX_EXPANDED_NODES` nodes (an "alias bomb": under 1 KB of nested aliases can describe
  billions of nodes), more than :data:`MAX_ALIASES` aliases, a recursive alias, nesting deeper
  than :data:`MAX_DEPTH`, and more than one document;
* resolves plain scalars by the YAML 1.2 core schema, not YAML 1.1: only ``true``/``false``
  are booleans and only ``null``/``~``/empty are null, so ``NO``, ``yes``, ``on``, ``off``,
  ``y`` and ``n`` stay text (an indicator coded ``NO`` stays ``"NO"``; ``weight: yes`` is
  refused by the schema instead of becoming 1.0); integers are decimal (or ``0o``/``0x``),
  ``1:30`` and ``2021-01-01`` stay text;
* refuses a key given twice in one mapping, naming the line;
* keeps the source text of every number (``code: 007`` is the code ``"007"``, not ``7``) and
  the line of every mapping key and list item, so that the schema
  (:mod:`cityindex.model.schema`) can name the line of a bad value.

:func:`plain` turns the loaded tree into plain Python values (``dict``, ``list``, ``int``,
``float``, ``str``; a number used as a mapping key becomes its source text).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

#: largest YAML input file read (bytes)
MAX_YAML_BYTES = 8 * 2**20
#: most alias uses (``*name``) in one file
MAX_ALIASES = 1000
#: most nodes of a document once its aliases are expanded
MAX_EXPANDED_NODES = 1_000_000
#: deepest nesting of mappings and lists
MAX_DEPTH = 64


class YamlLimitError(Exception):
    """A YAML file exceeds one of the limits of this module (message without the file)."""


class Int(int):
    """An integer read from YAML, with the text it was written as (``.text``)."""

    text: str

    def __new__(cls, value: int, text: str):
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self):
        return (Int, (int(self), self.text))


class Float(float):
    """A float read from YAML, with the text it was written as (``.text``)."""

    text: str

    def __new__(cls, value: float, text: str):
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self):
        return (Float, (float(self), self.text))


class Map(dict):
    """A YAML mapping; ``lines[key]`` is the (1-based) line of each key."""

    lines: dict

    def line(self, key) -> int | None:
        return getattr(self, "lines", {}).get(key)


class Seq(list):
    """A YAML sequence; ``lines[i]`` is the (1-based) line of item ``i``."""

    lines: list

    def line(self, i: int) -> int | None:
        lines = getattr(self, "lines", [])
        return lines[i] if 0 <= i < len(lines) else None


# ------------------------------------------------------------------ resolver (YAML 1.2 core)
class _Resolver(yaml.resolver.BaseResolver):
    pass


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


# ------------------------------------------------------------------ constructor
class _DuplicateKey(yaml.constructor.ConstructorError):
    pass


class _Constructor(yaml.constructor.SafeConstructor):
    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        t = text.lower()
        sign = -1 if t.startswith("-") else 1
        body = t.lstrip("+-")
        if body.startswith("0o"):
            value = int(body[2:], 8)
        elif body.startswith("0x"):
            value = int(body[2:], 16)
        else:
            value = int(body, 10)
        return Int(sign * value, text)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node)
        t = text.lower()
        if t.lstrip("+-") == ".inf":
            value = -math.inf if t.startswith("-") else math.inf
        elif t == ".nan":
            value = math.nan
        else:
            value = float(t)
        return Float(value, text)

    def construct_yaml_map(self, node):
        data = Map()
        data.lines = {}
        yield data
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {node.id}", node.start_mark)
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys ('<<') are not supported", key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a single value", key_node.start_mark
                ) from None
            if key in data:
                raise _DuplicateKey(None, None, f"key '{key}' given twice", key_node.start_mark)
            data[key] = self.construct_object(value_node, deep=True)
            data.lines[key] = key_node.start_mark.line + 1

    def construct_yaml_seq(self, node):
        data = Seq()
        data.lines = []
        yield data
        for child in node.value:
            data.append(self.construct_object(child, deep=True))
            data.lines.append(child.start_mark.line + 1)


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_yaml_map)
_Constructor.add_constructor("tag:yaml.org,2002:seq", _Constructor.construct_yaml_seq)


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
              yaml.composer.Composer, _Constructor, _Resolver):
    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self.n_aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            self.n_aliases += 1
            if self.n_aliases > MAX_ALIASES:
                raise YamlLimitError(f"more than {MAX_ALIASES} aliases")
        return super().compose_node(parent, index)


def _check_expansion(root) -> None:
    """Refuse recursive aliases, deep nesting and documents whose aliases expand them beyond
    :data:`MAX_EXPANDED_NODES` nodes (each node is sized once: linear in the file)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels")
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlLimitError("an alias refers to a mapping or list that contains it "
                                 "(recursive alias)")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child, depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k, depth + 1) + size(v, depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        active.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise YamlLimitError(f"its aliases expand it to more than {MAX_EXPANDED_NODES:,} "
                                 "values (an alias bomb?)")
        sizes[key] = total
        return total

    size(root, 0)


def load_yaml(path, error: type[Exception], what: str) -> Any:
    """Read the YAML file ``path`` within the limits of this module.

    Returns the document (mappings as :class:`Map`, lists as :class:`Seq`, numbers as
    :class:`Int`/:class:`Float` with their source text).

    Raises
    ------
    ``error`` with a one-line message naming the file (and the line where known): the file is
    missing, a folder, a symlink loop, unreadable, too large, empty, not valid YAML, or beyond a
    limit.
    """
    from .inputs import check_input_file

    path = check_input_file(path, error, what)
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise error(f"{path}: the {what} file is {size:,} bytes, more than the "
                    f"{MAX_YAML_BYTES:,} a YAML input may have")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save "
                    "the file as UTF-8") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise error(f"{path}: the {what} file is empty")
        _check_expansion(node)
        return loader.construct_document(node)
    except YamlLimitError as exc:
        raise error(f"{path}: refused: {exc}") from None
    except RecursionError:
        raise error(f"{path}: refused: nested deeper than {MAX_DEPTH} levels") from None
    except _DuplicateKey as exc:
        raise error(f"{path}: line {exc.problem_mark.line + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise error(f"{path}: {where}not valid YAML ({problem})") from None
    finally:
        loader.dispose()


def plain(value: Any) -> Any:
    """``value`` with plain Python types: :class:`Map` → dict, :class:`Seq` → list,
    :class:`Int` → int, :class:`Float` → float; a number used as a mapping key becomes the text
    it was written as (keys are codes, names or levels)."""
    if isinstance(value, dict):
        return {(k.text if isinstance(k, (Int, Float)) else k): plain(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Int):
        return int(value)
    if isinstance(value, Float):
        return float(value)
    return value


def line_of(container: Any, key: Any) -> int | None:
    """The line of ``key`` in a loaded mapping (or of item ``key`` of a list), else None."""
    if isinstance(container, (Map, Seq)):
        return container.line(key)
    return None
