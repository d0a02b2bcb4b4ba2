"""Entry points of the public API that resolve bundled names: :func:`compute`,
:func:`load_framework`, :func:`read_data`, :func:`load_method`.

A framework may be given as a bundled name (``"gdci"``, ``"brpci"``), a file (YAML or COINr
iMeta CSV) or a :class:`~cityindex.model.framework.Framework`; data default to the bundled open
panel; a bundled index's method defaults to its own bundled method, any other framework's to the
built-in defaults (:class:`~cityindex.model.method.MethodSpec` with no arguments).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from cityindex.model import bundled
from cityindex.model.data import IndicatorData
from cityindex.model.data import read_data as _read_data
from cityindex.model.framework import Framework
from cityindex.model.method import MethodSpec
from cityindex.model.pipeline import IndexResult, compute_index


def _framework_path(name: str | Path) -> Path:
    p = Path(name)
    if p.suffix or p.exists():
        return p
    return bundled.framework_path(str(name))


def load_framework(framework: str | Path | Framework) -> Framework:
    """A framework from a bundled name, a YAML / COINr iMeta file, or as given.

    Raises
    ------
    FrameworkError for an invalid file; CityIndexError for an unknown bundled name.
    """
    if isinstance(framework, Framework):
        return framework
    return Framework.load(_framework_path(framework))


def load_method(method: str | Path | Mapping | MethodSpec | None,
                framework: Framework | None = None) -> MethodSpec:
    """A method spec: as given, from a mapping or YAML file, a bundled method's name
    (``"default"``, ``"gdci"``, ``"asem"``, …), or — for ``None`` — the bundled index's own
    method when ``framework`` is bundled, else the built-in defaults."""
    if isinstance(method, MethodSpec):
        return method
    if isinstance(method, Mapping):
        return MethodSpec.from_dict(method)
    if method is None:
        if framework is not None and framework.origin and bundled.is_bundled(framework.origin):
            return MethodSpec.load(bundled.default_method_for(Path(framework.origin).stem))
        return MethodSpec()
    p = Path(method)
    if not p.suffix and not p.exists():
        p = bundled.method_path(str(method))
    return MethodSpec.load(p)


def read_data(data: str | Path | None, framework: str | Path | Framework, **kwargs
              ) -> IndicatorData:
    """Indicator data (CSV / Parquet / XLSX / COINr iData) validated against ``framework``;
    ``None`` reads the bundled open panel. See :func:`cityindex.model.data.read_data`."""
    fw = load_framework(framework)
    return _read_data(bundled.panel_path() if data is None else data, fw, **kwargs)


def compute(framework: str | Path | Framework, data=None, method=None) -> IndexResult:
    """Compute the index: every stage table, scores and ranks at every node.

    Parameters
    ----------
    framework : a bundled name (``"gdci"``, ``"brpci"``), a framework file, or a Framework.
    data : IndicatorData, a file, a DataFrame (units × indicators, index = unit codes), or
        None for the bundled open panel.
    method : MethodSpec, a mapping, a YAML file, a bundled method's name, or None (see
        :func:`load_method`).

    Returns
    -------
    IndexResult (units × codes tables; see :func:`cityindex.model.pipeline.compute_index`).

    Raises
    ------
    FrameworkError, DataError, MethodError with one-line messages naming the place at fault.
    """
    fw = load_framework(framework)
    spec = load_method(method, fw)
    if data is None or isinstance(data, (str, Path)):
        data = read_data(data, fw)
    return compute_index(fw, data, spec)
