"""The ``cityindex`` command line (typer): ``app`` is the entry point.

Each command lives in a module of its own and registers itself on the shared ``app``
(:mod:`.common`, with the options, input reading and one-line errors every command shares).
"""

from .common import app
from . import (audit, bayes, compare, compute, explore, init, publish, ranks,  # noqa: F401,E402
               uncertainty, validate, weights)  # (registers)

__all__ = ["app"]
