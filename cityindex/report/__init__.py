"""Rendering of an audit (``cityindex audit``): it reads an :class:`~cityindex.auditing.Audit` and
computes nothing.

* :mod:`.figures` draws each figure (matplotlib, Agg) as a function returning a Figure;
* :mod:`.profile` formats city profiles;
* :mod:`.html` renders the self-contained ``index.html`` and writes the run folder.
"""
