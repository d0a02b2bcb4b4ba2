"""Bundled data of cityindex (package data, read with ``importlib.resources``).

``frameworks/`` (GDCI, BRPCI indicator trees), ``methods/`` and ``spaces/`` (method specs and
uncertainty spaces), ``cities.csv`` (the 513-city registry), ``panel/`` (the open indicator panel
and its sources) and ``published/`` (the report's published tables). Locate files with
:mod:`cityindex.model.bundled`; ``build_panel.py`` and ``build_registry.py`` rebuild the panel and
the registry from raw sources (they are scripts, not part of the API).
"""
