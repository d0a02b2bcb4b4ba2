"""Checks every input file passes before it is read: it exists, is a file, and its path
resolves (a symlink loop or a dangling link is named as such, not as "not found")."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def check_input_file(path, error: type[Exception], what: str) -> Path:
    """``path`` as a Path when it names a readable regular file.

    Raises
    ------
    ``error`` with a one-line message naming the path: a symlink loop, a dangling symlink, no
    such file, a folder, something that is not a regular file (a device, a FIFO), or no
    permission to read it.
    """
    path = Path(path)
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"{path}: symlink loop (the link points back to itself); the {what} "
                        "file cannot be read") from None
        if exc.errno == errno.ENOENT and path.is_symlink():
            raise error(f"{path}: dangling symlink to {os.readlink(path)} (its target does "
                        f"not exist); the {what} file cannot be read") from None
        if exc.errno == errno.ENOENT:
            raise error(f"{path}: {what} file not found") from None
        if exc.errno == errno.ENOTDIR:
            raise error(f"{path}: {what} file not found (a part of the path is a file, not "
                        "a folder)") from None
        if exc.errno == errno.EACCES:
            raise error(f"{path}: no permission to read the {what} file") from None
        raise error(f"{path}: cannot open the {what} file ({exc.strerror})") from None
    if path.is_dir():
        raise error(f"{path}: is a folder, not a {what} file")
    if not path.is_file():
        raise error(f"{path}: not a regular file; give a {what} file")
    if not os.access(path, os.R_OK):
        raise error(f"{path}: no permission to read the {what} file")
    return path
