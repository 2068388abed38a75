"""The cxml exception hierarchy: every error cxml raises on purpose derives from CxmlError."""

from __future__ import annotations


class CxmlError(Exception):
    """Base class of all errors raised deliberately by cxml."""


class DataValidationError(CxmlError, ValueError):
    """An input table breaks the data contract.

    The message names the table, the column, the rule and up to five offending rows.
    """

    def __init__(self, table: str, column: str | None, rule: str, detail: str = "") -> None:
        self.table = table
        self.column = column
        self.rule = rule
        self.detail = detail
        where = f"table '{table}'" + (f", column '{column}'" if column else "")
        message = f"{where}: {rule}"
        if detail:
            message += f"\n{detail}"
        super().__init__(message)


class SourceError(CxmlError, FileNotFoundError):
    """A table source (file, glob, relation) cannot be found or read."""


class SnapshotError(CxmlError, ValueError):
    """A snapshot, label or training-frame request is inconsistent with the data."""


class ParameterError(CxmlError, ValueError, TypeError):
    """An argument has a wrong value or type (the data itself may be fine)."""


class ModelFitError(CxmlError, RuntimeError):
    """A model could not be fitted; the message says what to try."""


class ConfigError(CxmlError, ValueError):
    """A project configuration file or override is invalid; the message names the key path."""
