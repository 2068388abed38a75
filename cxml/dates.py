"""How moments are written in messages."""

from __future__ import annotations

import datetime as dt
from typing import Any


def shown(moment: Any) -> str:
    """A day as ``2023-10-01``; a moment within a day with its time, ``2023-10-01 12:00``
    (and its seconds when it has any), so that two moments of one day read differently.
    Anything but a datetime (a cut-off given as a number) as its text."""
    if not isinstance(moment, dt.datetime):
        return str(moment)
    if moment.time() == dt.time(0):
        return f"{moment:%Y-%m-%d}"
    return (
        f"{moment:%Y-%m-%d %H:%M:%S}"
        if moment.second or moment.microsecond
        else f"{moment:%Y-%m-%d %H:%M}"
    )
