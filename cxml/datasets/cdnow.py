"""The CDNOW data set (Fader, Hardie & Lee 2005) as shipped inside the `lifetimes` package.

The files are read by path: importing `lifetimes.datasets` needs `pkg_resources`, which
setuptools >= 82 no longer provides.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd

from cxml.data import Tables
from cxml.errors import SourceError


def lifetimes_data_dir() -> Path:
    """The `datasets` folder of the installed lifetimes package (found without importing it)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError("the 'lifetimes' package is not installed; `pip install lifetimes`")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


def read_cdnow(sample: bool = False) -> pd.DataFrame:
    """Raw CDNOW purchases: customer_id, timestamp (day), quantity (CDs) and amount (USD)."""
    if sample:
        path = lifetimes_data_dir() / "CDNOW_sample.txt"
        names, header = ["master_id", "customer_id", "date", "quantity", "amount"], None
    else:
        path = lifetimes_data_dir() / "CDNOW_master.txt"
        names, header = ["customer_id", "date", "quantity", "amount"], 0
    if not path.is_file():
        raise SourceError(f"CDNOW file not found at {path}; reinstall lifetimes==0.11.3")
    raw = pd.read_csv(
        path, sep=r"\s+", header=header, names=names, dtype={"date": str, "customer_id": "int64"}
    )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("int64"),
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[us]"),
            "quantity": raw["quantity"].astype("float64"),
            "amount": raw["amount"].astype("float64"),
        }
    )


def load_cdnow(sample: bool = False, connection: Any = None) -> Tables:
    """CDNOW as `Tables`: 23,570 customers and 69,659 purchase lines from 1997-01-01 to
    1998-06-30, or the 2,357-customer sample used in the BG/NBD paper (``sample=True``).

    Both files hold repeated identical lines (same customer, day, CDs and dollars) that are
    genuine separate purchases, so duplicates are kept. `connection`: the engine to run on
    (see `Tables`).
    """
    return Tables(
        read_cdnow(sample),
        duplicates="keep",
        plausible_range=("1997-01-01", "1998-06-30"),
        connection=connection,
    )
