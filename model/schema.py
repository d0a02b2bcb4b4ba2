"""The schemas of the YAML input files: one declarative description per file type, which the
readers validate against and from which a format reference can be generated.

* :data:`FRAMEWORK` (and :data:`FRAMEWORK_NODE`) — the framework file (``data/frameworks``);
* :func:`method_schema` — the method spec: its top-level keys here, each stage's methods and
  their parameter keys from the stage registry (:mod:`.stages`), each parameter's type from
  :data:`PARAM_TYPES`;
* :data:`SPACE` (and :data:`SPACE_ASSUMPTIONS`) — the uncertainty space file.

A schema is built from small types (:class:`Code`, :class:`Text`, :class:`Number`,
:class:`Integer`, :class:`Bool`, :class:`Choice`, :class:`Range`, :class:`ListOf`,
:class:`MapOf`, :class:`Record`, :class:`OneOf`); each has ``check(value, at)`` returning the
clean (plain Python) value or raising :class:`SchemaError`, and ``describe()`` giving the
sentence a reference (and every error message) uses. :func:`validate` runs a schema over a
loaded file and turns a :class:`SchemaError` into the reader's one-line error with the file and
line (:mod:`.yamlio` keeps the line of every key).

Types are checked strictly: a boolean is never a number or a code (``weight: yes`` or
``weight: true`` is refused), a code or name written as a number keeps the text it was written
as (``code: 007`` is ``"007"``), every number is finite and inside a documented range
(:data:`MAX_WEIGHT`, :data:`MAX_PARAM`).
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .ranking import MAX_DECIMALS, PUBLISH, TIES
from .yamlio import Float, Int, Map, Seq, plain

#: largest weight accepted anywhere (weights are relative: any larger range is a typo)
MAX_WEIGHT = 1e6
#: largest magnitude of a numeric method parameter or space value
MAX_PARAM = 1e12
#: longest code or name
MAX_TEXT = 10_000

_MISSING = object()


class SchemaError(Exception):
    """A value does not fit its schema: ``at`` (where in the file), ``line``, ``message``."""

    def __init__(self, at: str, message: str, line: int | None = None):
        super().__init__(render(at, message))
        self.at, self.message, self.line = at, message, line


def render(at: str, message: str) -> str:
    """``weight must be …`` / ``node 'x2': unknown key(s) …``."""
    if not at:
        return message
    return f"{at} {message}" if message.startswith("must be") else f"{at}: {message}"


def _join(a: str, b: str) -> str:
    return f"{a}: {b}" if a and b else (a or b)


def short(value: Any, n: int = 60) -> str:
    """``repr`` of a value for a one-line message: plain types, at most ``n`` characters."""
    try:
        text = repr(plain(value))
    except RecursionError:  # pragma: no cover - loaded files are depth-limited
        text = "…"
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_integer(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def has_control_chars(text: str) -> bool:
    """Whether ``text`` holds a control character (a line break, a tab, NUL, …)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


class Type:
    """Base of the schema types: ``check`` returns the clean value or raises SchemaError."""

    doc: str = ""

    def check(self, value: Any, at: str = "", line: int | None = None) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def ok(self, value: Any) -> bool:
        try:
            self.check(value)
        except SchemaError:
            return False
        return True

    def fail(self, value: Any, at: str, line: int | None):
        raise SchemaError(at, f"must be {self.describe()}, got {short(value)}", line)


@dataclass
class Code(Type):
    """A code (node, unit, column): text without control characters; a number keeps its
    source text; a boolean is refused (quote ``"true"`` to use it as a code)."""

    what: str = "a code"

    def check(self, value, at="", line=None):
        if isinstance(value, (Int, Float)):
            value = value.text
        if isinstance(value, bool) or not isinstance(value, str):
            self.fail(value, at, line)
        if not value.strip():
            raise SchemaError(at, f"must be {self.describe()}, got an empty code", line)
        if has_control_chars(value) or len(value) > MAX_TEXT:
            raise SchemaError(at, f"must be {self.describe()} without control characters "
                                  f"(line breaks, tabs) and at most {MAX_TEXT:,} characters, "
                                  f"got {short(value)}", line)
        return value

    def describe(self):
        return f"{self.what} (text; quote a code that looks like a number or true/false)"


@dataclass
class Text(Type):
    """Free text (a name, a source); a number keeps its source text; null is ''."""

    nullable: bool = True

    def check(self, value, at="", line=None):
        if value is None and self.nullable:
            return ""
        if isinstance(value, (Int, Float)):
            return value.text
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(value, at, line)
        value = str(value)
        if len(value) > MAX_TEXT:
            raise SchemaError(at, f"is longer than {MAX_TEXT:,} characters", line)
        return value

    def describe(self):
        return "text"


@dataclass
class Number(Type):
    """A finite number in [lo, hi] (an open end with ``lo_open``/``hi_open``)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    what: str = ""

    def check(self, value, at="", line=None):
        if not _is_number(value) or not math.isfinite(value):
            self.fail(value, at, line)
        v = float(value)
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            self.fail(value, at, line)
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            self.fail(value, at, line)
        return int(value) if _is_integer(value) else v

    def describe(self):
        if self.what:
            return self.what
        if self.lo == 0 and self.lo_open and self.hi is None:
            return "a positive number"
        if self.lo == 0 and not self.lo_open and self.hi is None:
            return "a non-negative number"
        if self.lo is None and self.hi is None:
            return "a number"
        lb = "(" if self.lo_open else "["
        rb = ")" if self.hi_open else "]"
        return f"a number in {lb}{_g(self.lo)}, {_g(self.hi)}{rb}"


def _g(v) -> str:
    return "-∞" if v is None else f"{v:g}"


@dataclass
class Integer(Type):
    """An integer (not a boolean, not 2.0) in [lo, hi]."""

    lo: int | None = None
    hi: int | None = None
    what: str = ""

    def check(self, value, at="", line=None):
        if not _is_integer(value):
            self.fail(value, at, line)
        if (self.lo is not None and value < self.lo) or (self.hi is not None
                                                          and value > self.hi):
            self.fail(value, at, line)
        return int(value)

    def describe(self):
        if self.what:
            return self.what
        if self.lo is None and self.hi is None:
            return "an integer"
        if self.hi is None:
            return {0: "a non-negative integer", 1: "a positive integer"}.get(
                self.lo, f"an integer ≥ {self.lo}")
        return f"an integer in [{self.lo}, {self.hi}]"


@dataclass
class Bool(Type):
    """``true`` or ``false`` (YAML 1.2: not yes/no/on/off)."""

    def check(self, value, at="", line=None):
        if not isinstance(value, bool):
            self.fail(value, at, line)
        return value

    def describe(self):
        return "true or false"


@dataclass
class Choice(Type):
    """One of a fixed set of values (a boolean never equals 1 or 0 here)."""

    options: tuple = ()
    what: str = ""

    def check(self, value, at="", line=None):
        for o in self.options:
            if type(o) is bool or isinstance(value, bool):
                if value is o:
                    return o
            elif isinstance(o, str) == isinstance(value, str) and value == o:
                return o
        self.fail(value, at, line)

    def describe(self):
        return self.what or "one of " + ", ".join(map(str, self.options))


@dataclass
class Range(Type):
    """A list ``[l, u]`` of two finite numbers with l < u."""

    what: str = "a list [l, u] of two numbers with l < u"

    def check(self, value, at="", line=None):
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(_is_number(v) and math.isfinite(v) for v in value)
                or not value[0] < value[1]):
            self.fail(value, at, line)
        return [float(value[0]), float(value[1])]

    def describe(self):
        return self.what


@dataclass
class Nullable(Type):
    """``null`` or the inner type."""

    inner: Type = field(default_factory=Text)

    def check(self, value, at="", line=None):
        return None if value is None else self.inner.check(value, at, line)

    def describe(self):
        return f"{self.inner.describe()} or null"


@dataclass
class ListOf(Type):
    """A list of values of one type (``min_len``..``max_len`` items)."""

    item: Type = field(default_factory=Text)
    min_len: int = 0
    max_len: int | None = None
    what: str = ""

    def check(self, value, at="", line=None):
        if not isinstance(value, (list, tuple)):
            self.fail(value, at, line)
        if len(value) < self.min_len or (self.max_len is not None
                                         and len(value) > self.max_len):
            self.fail(value, at, line)
        out = []
        for i, v in enumerate(value):
            ln = value.line(i) if isinstance(value, Seq) else None
            out.append(self.item.check(v, f"{at}[{i}]" if at else f"item {i}", ln or line))
        return out

    def describe(self):
        if self.what:
            return self.what
        n = f" of at least {self.min_len}" if self.min_len else ""
        return f"a list{n} of {_plural(self.item.describe())}"


def _plural(text: str) -> str:
    for article in ("a ", "an "):
        if text.startswith(article):
            return "values: " + text
    return text


@dataclass
class MapOf(Type):
    """A mapping with keys of one type and values of another."""

    key: Type = field(default_factory=Code)
    value: Type = field(default_factory=Text)
    min_len: int = 0
    what: str = ""
    item_label: Callable[[Any], str] | None = None  # names one entry in messages

    def check(self, value, at="", line=None):
        if not isinstance(value, Mapping) or len(value) < self.min_len:
            self.fail(value, at, line)
        out = {}
        for k, v in value.items():
            ln = value.line(k) if isinstance(value, Map) else None
            kk = self.key.check(k, f"{at}: key {short(k)}" if at else f"key {short(k)}",
                                ln or line)
            if kk in out:
                raise SchemaError(at, f"key '{kk}' given twice", ln or line)
            here = self.item_label(kk) if self.item_label else (f"{at}.{kk}" if at else str(kk))
            out[kk] = self.value.check(v, here, ln or line)
        return out

    def describe(self):
        return self.what or f"a mapping of {self.key.describe()} to {self.value.describe()}"


@dataclass
class Section(Type):
    """A mapping checked elsewhere (a method stage section: the method spec checks its keys);
    returned with plain types."""

    what: str = "a mapping"

    def check(self, value, at="", line=None):
        if not isinstance(value, Mapping):
            self.fail(value, at, line)
        return plain(value)

    def describe(self):
        return self.what


@dataclass
class Field:
    """One key of a :class:`Record`: its type, whether it is required, its default, a
    one-sentence description and an example (for the format reference)."""

    type: Type
    required: bool = False
    default: Any = _MISSING
    doc: str = ""
    example: Any = _MISSING

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


@dataclass
class Record(Type):
    """A mapping with a fixed set of keys (unknown keys are refused, listing the valid ones).

    ``label(raw, index)`` names one record in messages (e.g. ``node 'x2'``)."""

    fields: dict[str, Field] = field(default_factory=dict)
    what: str = "a mapping"
    label: Callable[[Any, int | None], str] | None = None
    defaults: bool = True  # fill in defaults of missing keys

    def check(self, value, at="", line=None, index: int | None = None):
        if not isinstance(value, Mapping):
            self.fail(value, at, line)
        here = self.label(value, index) if self.label else at
        unknown = [k for k in value if k not in self.fields]
        if unknown:
            ln = value.line(unknown[0]) if isinstance(value, Map) else None
            raise SchemaError(here, f"unknown key(s) {sorted(map(str, unknown))}; valid keys: "
                                    f"{sorted(self.fields)}", ln or line)
        out = {}
        for name, f in self.fields.items():
            ln = (value.line(name) if isinstance(value, Map) else None) or line
            if name not in value:
                if f.required:
                    raise SchemaError(here, f"'{name}' is required ({f.type.describe()})", line)
                if self.defaults and f.has_default:
                    out[name] = f.default
                continue
            try:
                out[name] = f.type.check(value[name], name, ln)
            except SchemaError as exc:
                raise SchemaError(_join(here, exc.at), exc.message, exc.line or ln) from None
        return out

    def describe(self):
        return self.what


@dataclass
class OneOf(Type):
    """The first of several types that accepts the value."""

    options: tuple = ()
    what: str = ""

    def check(self, value, at="", line=None):
        for t in self.options:
            try:
                return t.check(value, at, line)
            except SchemaError:
                continue
        self.fail(value, at, line)

    def describe(self):
        return self.what or " or ".join(t.describe() for t in self.options)


@dataclass
class Records(Type):
    """A list of :class:`Record` items, each labelled by its record's ``label``."""

    record: Record = field(default_factory=Record)
    min_len: int = 0
    what: str = ""

    def check(self, value, at="", line=None):
        if not isinstance(value, (list, tuple)) or len(value) < self.min_len:
            self.fail(value, at, line)
        out = []
        for i, v in enumerate(value):
            ln = value.line(i) if isinstance(value, Seq) else None
            out.append(self.record.check(v, f"{at}[{i}]", ln or line, index=i + 1))
        return out

    def describe(self):
        return self.what or f"a list of {self.record.describe()}s"


def validate(schema: Type, value: Any, error: type[Exception], origin: str = "") -> Any:
    """``schema.check(value)``; a :class:`SchemaError` becomes ``error`` with a one-line message
    ``<file>: line <n>: <where>: <what is wrong>``."""
    try:
        return schema.check(value)
    except SchemaError as exc:
        parts = [p for p in (origin, f"line {exc.line}" if exc.line else "") if p]
        raise error(": ".join(parts + [render(exc.at, exc.message)])) from None


# ====================================================================== framework
def _node_label(raw, index) -> str:
    code = raw.get("code") if isinstance(raw, Mapping) else None
    if isinstance(code, (Int, Float)):
        code = code.text
    if isinstance(code, str) and code.strip() and not has_control_chars(code):
        return f"node '{short(code, 80).strip(chr(39))}'"
    return f"node #{index}" if index else "node"


FRAMEWORK_NODE = Record({
    "code": Field(Code("a node code"), required=True,
                  doc="Unique code of the node; an indicator's code is its data column.",
                  example="unicorns"),
    "name": Field(Text(), default="", doc="Display name."),
    "parent": Field(Nullable(Code("a node code")), default=None,
                    doc="Code of the parent node; null (or absent) for the root."),
    "level": Field(Integer(1, 50), default=1,
                   doc="1 for an indicator; a parent is exactly one level above its "
                       "children; the root has the highest level."),
    "weight": Field(Number(0, MAX_WEIGHT, lo_open=True,
                           what=f"a positive number (at most {MAX_WEIGHT:,.0f})"), default=1.0,
                    doc="Weight relative to the node's siblings (normalised within the "
                        "parent)."),
    "direction": Field(Choice((1, -1), what="1 or -1"), default=1,
                       doc="1 when higher is better, -1 when lower is better (indicators)."),
    "unit": Field(Text(), default="", doc="Unit of measurement (indicators)."),
    "source": Field(Text(), default="", doc="Data source (indicators)."),
    "denominator": Field(Nullable(Code("a data column")), default=None,
                         doc="Data column the indicator is divided by before screening."),
    "target": Field(Nullable(Number(-MAX_PARAM, MAX_PARAM)), default=None,
                    doc="Target value (distance-to-target normalisation)."),
    "goalposts": Field(Nullable(Range("a list [L, U] of two numbers with L < U")),
                       default=None, doc="Goalposts [L, U] (goalpost normalisation)."),
    "range": Field(Nullable(Range("a list [lo, hi] of two numbers with lo < hi")),
                   default=None,
                   doc="Plausible range of an indicator's values (e.g. [0, 100] for a share in "
                       "per cent): values outside are reported by the data checks of validate "
                       "and the report (never changed).", example=[0, 100]),
    "status": Field(Nullable(Choice(("no_open_indicator",))), default=None,
                    doc="no_open_indicator for an aggregate with no data (kept, skipped)."),
    "note": Field(Text(), default="", doc="Free note."),
    "error": Field(Nullable(Record({
        "kind": Field(Choice(("relative", "absolute"), what="relative or absolute"),
                      default="relative", doc="relative: se is a share of the value; "
                                                  "absolute: se is in the indicator's unit."),
        "se": Field(Number(0, MAX_PARAM, what="a non-negative number"), required=True,
                    doc="Standard error of the indicator's values."),
    }, what="a mapping {kind: relative|absolute, se: number}")), default=None,
        doc="Measurement error of an indicator's values (the rank sets' error model; default "
            "the method's measurement_error)."),
}, what="a node mapping", label=_node_label, defaults=False)

FRAMEWORK = Record({
    "index": Field(Code("the root node's code"), doc="Code of the root node (checked)."),
    "name": Field(Text(), default="", doc="Name of the index."),
    "source": Field(Text(), default="", doc="Where the framework comes from."),
    "description": Field(Text(), default="", doc="Free description."),
    "nodes": Field(Records(FRAMEWORK_NODE, min_len=1, what="a list of node mappings"),
                   required=True, doc="The nodes, in display order."),
}, what="a framework mapping (index, name, source, nodes)")


def _examples(record: Record, examples: Mapping[str, Any]) -> None:
    """Set the format reference's example of some keys of ``record``."""
    for key, value in examples.items():
        record.fields[key].example = value


_examples(FRAMEWORK_NODE, {
    "name": "Unicorn companies headquartered in the city", "parent": "INN_innovator",
    "weight": 0.6, "unit": "count", "source": "CB Insights unicorn list, 2022",
    "denominator": "population", "target": 100, "goalposts": [0, 100],
    "note": "No open city-level data found.", "error": {"kind": "relative", "se": 0.1}})
_examples(FRAMEWORK_NODE.fields["error"].type.inner, {"se": 0.1})
_examples(FRAMEWORK, {"index": "GDCI", "name": "Global Dynamic Cities Index",
                      "source": "CAUPD 2021 report, sections 2.1 and 3",
                      "description": "Open proxies of the published indicators."})

# ====================================================================== method
#: the type of every method parameter, wherever it appears (stage sections, overrides)
PARAM_TYPES: dict[str, Type] = {
    # panel section (model/temporal.py)
    "interpolation": Choice(("linear", "previous", "nearest", "none"),
                            what="one of linear, previous, nearest, none"),
    "carry": Choice(("both", "forward", "none"), what="one of both, forward, none"),
    "reference": Choice(("year", "panel"), what="year or panel"),
    "range": Range("a list [l, u] of two numbers with l < u"),
    "goalposts": Range("a list [L, U] of two numbers with L < U"),
    "mean": Number(-MAX_PARAM, MAX_PARAM, what="a number"),
    "sd": Number(0, MAX_PARAM, lo_open=True, what="a positive number"),
    "scale": Number(0, MAX_PARAM, lo_open=True, what="a positive number"),
    "target": Number(-MAX_PARAM, MAX_PARAM, what="a number"),
    "lmbda": Nullable(Number(-MAX_PARAM, MAX_PARAM, what="a number")),
    "p": Number(-MAX_PARAM, MAX_PARAM, what="a number"),
    "skew": Number(0, MAX_PARAM, lo_open=True, what="a positive number"),
    "kurtosis": Number(-MAX_PARAM, MAX_PARAM, what="a number"),
    "winmax": Integer(0, 10_000, what="a non-negative integer (at most 10,000)"),
    "max_iter": Integer(1, 1_000_000, what="a positive integer"),
    "seed": Integer(what="an integer"),
    "min_availability": Number(0, 1, what="a number in [0, 1]"),
    "direction": Choice((1, -1), what="1 or -1"),
    "force": Bool(),
    "log_fallback": Bool(),
    "truncate": Bool(),
    "cap": Bool(),
    "enabled": Bool(),
    "group": Code("a column name"),
    "ref": Code("a unit code"),
    "force_include": ListOf(Code("a unit code"), what="a list of unit codes"),
    "force_exclude": ListOf(Code("a unit code"), what="a list of unit codes"),
    "measure": Choice(("imputed", "denominated"), what="'imputed' or 'denominated'"),
    "ties": Choice(TIES, what="one of " + ", ".join(TIES)),
    "round": Nullable(Integer(0, MAX_DECIMALS, what=f"an integer number of decimals in "
                                                   f"0..{MAX_DECIMALS}")),
    "publish": Choice(PUBLISH, what="one of " + ", ".join(PUBLISH)),
    # availability (model/availability.py) and measurement_error (model/measurement_error.py)
    "flag_below": Number(0, 1, what="a number in [0, 1]"),
    "kind": Choice(("relative", "absolute"), what="'relative' or 'absolute'"),
    "se": Nullable(Number(0, MAX_PARAM, what="a non-negative number")),
    "indicators": MapOf(Code("an indicator code"), Record({
        "kind": Field(Choice(("relative", "absolute"), what="relative or absolute"),
                      default="relative"),
        "se": Field(Number(0, MAX_PARAM, what="a non-negative number"), required=True),
    }, what="a mapping {kind: relative|absolute, se: number}"),
        what="a mapping of indicator codes to {kind: relative|absolute, se: number}"),
}

#: one sentence per method parameter (the format reference, docs/formats.md)
PARAM_DOCS: dict[str, str] = {
    "range": "Target range [l, u] of min-max normalisation.",
    "goalposts": "Goalposts [L, U]: the values mapped to 0 and 1 (times scale).",
    "mean": "Mean of the z-scores.",
    "sd": "Standard deviation of the z-scores.",
    "scale": "Scale of the normalised values (percentile ranks, goalposts).",
    "target": "Target value of a distance-to-target normalisation.",
    "lmbda": "Box-Cox λ (null: estimated by maximum likelihood).",
    "p": "Power of the generalised mean (1 arithmetic, 0 geometric, −1 harmonic).",
    "skew": "Absolute skewness above which an indicator is treated.",
    "kurtosis": "Kurtosis above which an indicator is treated (with skew).",
    "winmax": "Most points winsorised per indicator before a log transform is tried.",
    "max_iter": "Most iterations of the iterative imputer.",
    "seed": "Seed of a random method.",
    "min_availability": "Least share of a unit's indicators (or of a parent's children) "
                        "observed for it to be kept / aggregated.",
    "direction": "1 or −1 for every indicator, replacing the framework's directions.",
    "force": "Treat every indicator, skewed or not.",
    "interpolation": "Temporal imputation between a unit's own observed years (linear, the "
                     "previous or the nearest observed value, or none); filled cells are "
                     "flagged.",
    "carry": "Carry a unit's first/last observed value beyond its observed years (both, "
             "forward only, none); carried cells are flagged.",
    "reference": "year: treat and normalise each year on its own; panel: one reference over "
                 "all years, so a score change is a change in the unit's own data.",
    "log_fallback": "Log-transform an indicator that winsorisation leaves skewed.",
    "truncate": "Cut normalised values at the goalposts.",
    "cap": "Cap distances at the reference/target.",
    "enabled": "Divide indicators by their framework denominator.",
    "group": "Metadata column of the data whose groups the imputation uses.",
    "fallback": "Rule for a unit whose group has no observed value: median, mean or none.",
    "ref": "Reference unit of a distance-to-reference normalisation.",
    "force_include": "Units kept whatever their availability.",
    "force_exclude": "Units dropped whatever their availability.",
    "measure": "Availability measured on the imputed or the denominated data.",
    "ties": "How tied scores are ranked.",
    "round": "Decimals the published score is rounded to (null: not rounded).",
    "publish": "Which score the published rank follows (rounded or exact).",
    "flag_below": "Units with fewer than this share of a node's indicators observed are "
                  "flagged.",
    "kind": "relative: se is a share of the value; absolute: se in the indicator's unit.",
    "se": "Standard error of the measurement-error model (null: the built-in 10 % relative).",
    "indicators": "Per-indicator error models {code: {kind, se}}.",
}

METHOD_TOP = {
    "name": Field(Text(), default="", doc="Name of the method."),
    "description": Field(Text(), default="", doc="Free description."),
    "seed": Field(Integer(0, 2**63 - 1, what="a non-negative integer"), default=0,
                  doc="Random seed of every random result (overridden by --seed)."),
    "extends": Field(Text(), doc="Another method file (relative path) this one starts from."),
    "weights": Field(MapOf(Code("a node code"), Number(0, MAX_WEIGHT, lo_open=True,
                                                       what="a positive number")),
                     default={}, doc="Node weights replacing the framework's."),
    "overrides": Field(Record({
        "levels": Field(MapOf(Integer(1, 50), Section("a mapping of stage sections")),
                        doc="Per level: stage sections merged into the stage's."),
        "nodes": Field(MapOf(Code("a node code"), Section("a mapping of stage sections")),
                       doc="Per node: stage sections merged into the stage's."),
    }, what="a mapping with keys levels and nodes"), default={},
        doc="Per-level and per-node changes of a stage's method or parameters."),
}


#: one sentence per section of the method spec
STAGE_DOCS = {
    "panel": "Panel data (a data file with a year column, --year): temporal imputation within "
             "each unit's series, and the reference of treatment and normalisation.",
    "denomination": "Divide indicators by their denominator column (framework key "
                    "denominator).",
    "screening": "Which units are kept, by the share of their indicators observed.",
    "imputation": "How missing cells are filled (none: left missing, a parent is the mean "
                  "of its observed children).",
    "treatment": "Outlier treatment of skewed indicators.",
    "normalisation": "How indicators are brought to a common scale.",
    "aggregation": "How children are combined into their parent (weights relative within "
                   "the parent).",
    "ranking": "Publication conventions of the ranks (ties, rounding).",
    "availability": "When a unit's rank is flagged for low availability.",
    "measurement_error": "The measurement-error model behind the rank confidence sets.",
}


def method_schema() -> Record:
    """The method spec's schema (for the format reference): the top-level keys, and each
    stage's section with its methods (a ``method`` choice) and every parameter's type, from the
    stage registry. :mod:`.method` validates with the same registry and :data:`PARAM_TYPES`."""
    from . import stages
    from .method import DEFAULTS

    fields = dict(METHOD_TOP)
    for stage, keys in stages.PLAIN_STAGES.items():
        fields[stage] = Field(Record({k: Field(PARAM_TYPES.get(k, Text()),
                                               default=DEFAULTS[stage].get(k, _MISSING),
                                               doc=PARAM_DOCS.get(k, ""))
                                      for k in sorted(keys)}, what=f"the {stage} section"),
                              default=DEFAULTS[stage], doc=STAGE_DOCS.get(stage, ""))
    for stage, methods in stages.stage_methods().items():
        params = sorted(set().union(*methods.values()))
        sect = {"method": Field(Choice(tuple(methods), what="one of " + ", ".join(methods)),
                                required=True, doc=f"The {stage} method.")}
        sect.update({k: Field(PARAM_TYPES.get(k, Text()), doc=PARAM_DOCS.get(k, "") + (
            " Methods: " + ", ".join(m for m, keys in methods.items() if k in keys) + "."))
            for k in params})
        fields[stage] = Field(Record(sect, what=f"the {stage} section"),
                              default=DEFAULTS[stage], doc=STAGE_DOCS.get(stage, ""))
    rec = Record(fields, what="a method spec mapping of stage sections")
    _examples(rec, {"name": "GDCI 2021 method", "description": "Group medians, COINr "
                    "treatment, min-max 0-100, arithmetic means.", "seed": 42,
                    "extends": "default.yaml", "weights": {"INN": 2, "PS": 1}})
    _examples(rec.fields["overrides"].type, {
        "levels": {2: {"aggregation": {"method": "geometric"}}},
        "nodes": {"unicorns": {"treatment": {"method": "log"}}}})
    _examples(rec.fields["imputation"].type, {"group": "subregion", "fallback": "median"})
    _examples(rec.fields["normalisation"].type, {"ref": "CA-EDMONTON"})
    _examples(rec.fields["screening"].type, {"force_include": ["XX-XINFU"],
                                             "force_exclude": ["XX-ISKRA"]})
    _examples(rec.fields["measurement_error"].type, {
        "indicators": {"unicorns": {"kind": "absolute", "se": 1}}})
    return rec


# ====================================================================== uncertainty space
_PATH = Record({
    "path": Field(Text(nullable=False), required=True,
                  doc="Dotted path into the method spec (stage, stage.key, weights.CODE, "
                      "overrides.nodes.CODE.stage[.key], overrides.levels.L.stage[.key])."),
    "values": Field(ListOf(OneOf((Section("a stage section"), Choice((None,)), Bool(),
                                  Number(-MAX_PARAM, MAX_PARAM),
                                  ListOf(Number(-MAX_PARAM, MAX_PARAM)), Text(nullable=False)),
                                 what="a stage section, text, a number, true/false or "
                                      "null"),
                           min_len=1, what="a non-empty list of alternatives"),
                    required=True, doc="The alternatives; each must give a valid method."),
}, what="path + values", defaults=False)

_NOISE = Record({
    "levels": Field(OneOf((Choice(("aggregates",)), ListOf(Integer(1, 50), min_len=1)),
                          what="'aggregates' or a list of levels (integers)"),
                    doc="Levels whose weights are perturbed ('aggregates': every aggregate "
                        "level below the index)."),
    "nodes": Field(ListOf(Code("a node code"), min_len=1, what="a list of node codes"),
                   doc="Nodes whose weights are perturbed (instead of levels)."),
    "factor": Field(Number(0, 1, lo_open=True, hi_open=True, what="a number in (0, 1)"),
                    default=0.25, doc="Uniform noise: each weight × U(1 − factor, 1 + factor)."),
    "kind": Field(Choice(("uniform", "dirichlet"), what="uniform or dirichlet"),
                  default="uniform", doc="Uniform factors or Dirichlet shares."),
    "concentration": Field(Number(0, 1e9, lo_open=True, what="a positive number "
                                  "(at most 1e9)"), default=100.0,
                           doc="Dirichlet concentration (larger: closer to the nominal "
                               "shares)."),
    "n_sets": Field(Integer(1, 1_000_000, what="an integer in [1, 1000000]"), default=1000,
                    doc="Pre-drawn weight sets (levels of the factor)."),
}, what="a noise mapping", defaults=True)

_WEIGHT_SET = OneOf((Choice(("equal", "nominal"), what="equal or nominal"),
                     MapOf(Code("a node code"), Number(0, MAX_WEIGHT,
                                                       what="a non-negative number"))),
                    what="equal, nominal, null or a mapping of node code to a non-negative "
                         "weight")

_LOO = Record({
    "level": Field(Integer(1, 50), default=1, doc="Level whose nodes are left out one at a "
                                                  "time."),
    "include_none": Field(Bool(), default=True, doc="Also the alternative that leaves nothing "
                                                    "out."),
}, what="a leave_one_out mapping")

_MEASUREMENT = Record({
    "kind": Field(Choice(("multiplicative", "additive"), what="multiplicative or additive"),
                  default="multiplicative", doc="x·(1 + ε) or x + ε·sd(x)."),
    "sd": Field(OneOf((Number(0, 100, what="a non-negative number (at most 100)"),
                       MapOf(Code("an indicator code"),
                             Number(0, 100, what="a non-negative number (at most 100)"))),
                      what="a non-negative number, or a mapping of indicator code to one"),
                default=0.05, doc="Standard deviation of ε."),
    "draws": Field(Integer(1, 10_000, what="an integer in [1, 10000]"), default=20,
                   doc="Pre-drawn noisy data sets (levels of the factor)."),
    "indicators": Field(OneOf((Choice(("all",)), ListOf(Code("an indicator code"),
                                                        min_len=1)),
                              what="'all' or a list of indicator codes"), default="all",
                        doc="Indicators perturbed."),
}, what="a measurement mapping")


_MULTIPLE_IMPUTATION = Record({
    "m": Field(Integer(2, 10_000, what="an integer in [2, 10000]"), default=10,
               doc="Completed data sets (levels of the factor)."),
    "max_iter": Field(Integer(1, 1_000, what="an integer in [1, 1000]"), default=5,
                      doc="Rounds of the chained equations per completed data set."),
    "method": Field(Choice(("pmm", "iterative"), what="pmm or iterative"), default="pmm",
                    doc="Predictive mean matching or scikit-learn's IterativeImputer."),
}, what="a multiple_imputation mapping")


def _assumption_check(value, at="", line=None):
    kinds = ("path", "noise", "weight_sets", "leave_one_out", "measurement",
             "multiple_imputation")
    if not isinstance(value, Mapping) or len(set(value) & set(kinds)) != 1:
        raise SchemaError(at, "give exactly one of path+values, noise, weight_sets, "
                              "leave_one_out, measurement, multiple_imputation", line)
    if "path" in value:
        return {"path": _PATH.check(value, at, line)}
    (kind,) = set(value) & set(kinds)
    extra = set(value) - {kind}
    if extra:
        raise SchemaError(at, f"unknown key(s) {sorted(map(str, extra))} beside '{kind}'", line)
    body = value[kind]
    ln = (value.line(kind) if isinstance(value, Map) else None) or line
    if kind == "weight_sets":
        sets = MapOf(Text(nullable=False), Nullable(_WEIGHT_SET), min_len=1,
                     what="a mapping of set names to weight sets").check(
            body, f"{at}: weight_sets", ln)
        return {kind: {k: (None if v == {} else v) for k, v in sets.items()}}
    rec = {"noise": _NOISE, "leave_one_out": _LOO, "measurement": _MEASUREMENT,
           "multiple_imputation": _MULTIPLE_IMPUTATION}[kind]
    return {kind: rec.check({} if body is None else body, f"{at}: {kind}", ln)}


_examples(_PATH, {"path": "normalisation",
                  "values": [{"method": "minmax", "range": [1, 100]}, {"method": "rank"}]})
_examples(_NOISE, {"nodes": ["INN", "PS"]})
_examples(_MEASUREMENT, {"indicators": ["unicorns", "qs2022_univ"]})

SPACE_ASSUMPTIONS = {"path": _PATH, "noise": _NOISE, "weight_sets": _WEIGHT_SET,
                     "leave_one_out": _LOO, "measurement": _MEASUREMENT,
                     "multiple_imputation": _MULTIPLE_IMPUTATION}


class _Assumption(Type):
    def check(self, value, at="", line=None):
        return _assumption_check(value, at, line)

    def describe(self):
        return ("one of {path, values}, {noise}, {weight_sets}, {leave_one_out}, "
                "{measurement} or {multiple_imputation}")


SPACE = Record({
    "name": Field(Text(), default="", doc="Name of the space.",
                  example="JRC-style default space"),
    "description": Field(Text(), default="", doc="Free description.",
                         example="Assumptions of the 2021 audit."),
    "assumptions": Field(MapOf(Text(nullable=False), _Assumption(), min_len=1,
                               what="a non-empty mapping of assumption names to assumptions",
                               item_label=lambda k: f"assumption '{k}'"),
                         required=True, doc="The assumptions: each one factor of the design."),
}, what="an uncertainty space mapping (name, description, assumptions)")


def iter_fields(record: Record, prefix: str = "") -> Sequence[tuple[str, Field]]:
    """(dotted key, Field) of a record and its nested records, for a format reference."""
    out = []
    for name, f in record.fields.items():
        out.append((prefix + name, f))
        inner = f.type.record if isinstance(f.type, Records) else f.type
        if isinstance(inner, Record) and inner.fields:
            out.extend(iter_fields(inner, prefix + name + "."))
    return out
