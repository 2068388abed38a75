"""The report's exception class."""

from __future__ import annotations

from cxml.errors import CxmlError


class ReportError(CxmlError, ValueError):
    """A report input is unusable (wrong columns, unfitted pipeline, unwritable path)."""
