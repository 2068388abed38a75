"""Checks on output paths, made before any work is done."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cxml.errors import CxmlError, ParameterError


def check_writable(
    path: Path, what: str, *, folder: bool = False, error: type[CxmlError] = ParameterError
) -> None:
    """`error` for a `path` that cannot be written: a folder (unless `folder`: Spark
    writes Parquet as a folder, replacing one that is there), a path through a file, or into
    a read-only folder. A cluster path (``s3://...``) is left to the engine."""
    if re.match(r"[A-Za-z][\w+.-]*:/", str(path)):
        return
    if path.is_dir() and not folder:
        raise error(f"{what} {str(path)!r} is a folder; give a file name")
    existing = next(parent for parent in path.absolute().parents if parent.exists())
    if not existing.is_dir():
        raise error(
            f"{what} {str(path)!r} cannot be written: {str(existing)!r} is a file, not a folder"
        )
    if not os.access(existing, os.W_OK):
        raise error(
            f"{what} {str(path)!r} cannot be written: the folder {str(existing)!r} is read-only"
        )
