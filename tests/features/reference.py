"""A deliberately naive, loop-per-customer pandas computation of every snapshot feature.

It shares no code with cxml.features: it is the independent reference the property-based
tests compare the engine against.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

EPOCH = pd.Timestamp("1970-01-01")
SURVEYS = ("nps", "csat", "ces")


def _days(ts: pd.Series | pd.Timestamp) -> pd.Series | float:
    return (ts - EPOCH) / pd.Timedelta(days=1)


def on_grid(values: Any) -> Any:
    """Amounts and answers as cxml counts them: rounded half away from zero to millionths,
    so that sums are exact in any order (`cxml.data.sums`)."""
    return np.sign(values) * np.floor(np.abs(values) * 1e6 + 0.5) / 1e6


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else np.nan


def reference_snapshot(
    tx: pd.DataFrame,
    ix: pd.DataFrame | None,
    cust: pd.DataFrame | None,
    cutoff: pd.Timestamp,
    windows: tuple[int, ...],
    unit: float,
    event_types: tuple[str, ...],
) -> pd.DataFrame:
    c = _days(cutoff)
    last_day = math.ceil(c) - 1
    tx = tx[tx["timestamp"] < cutoff].copy()
    tx["t"] = _days(tx["timestamp"])
    for column in ("amount", "discount"):
        if column in tx.columns:
            tx[column] = on_grid(tx[column])
    if ix is not None:
        ix = ix[ix["timestamp"] < cutoff].copy()
        ix["t"] = _days(ix["timestamp"])
        if "value" in ix.columns:
            ix["value"] = on_grid(ix["value"])
    ids = set(tx["customer_id"])
    if ix is not None:
        ids |= set(ix["customer_id"])
    if cust is not None and "signup_date" in cust:
        ids |= set(cust.loc[cust["signup_date"] < cutoff, "customer_id"])
    rows = []
    for cid in sorted(ids):
        row: dict[str, object] = {"customer_id": cid}
        mine = tx[tx["customer_id"] == cid]
        buys = mine[~mine["is_return"]]
        # BTYD, purchase days
        day_amounts: dict[int, float] = {}
        for t, amount in zip(buys["t"], buys["amount"], strict=True):
            day_amounts[math.floor(t)] = day_amounts.get(math.floor(t), 0.0) + amount
        days = sorted(day_amounts)
        n = len(days)
        row["frequency"] = n - 1 if n else np.nan
        row["recency"] = (days[-1] - days[0]) / unit if n else np.nan
        row["T"] = (last_day - days[0]) / unit if n else np.nan
        row["monetary_value"] = (
            sum(day_amounts[d] for d in days[1:]) / (n - 1)
            if n > 1
            else (0.0 if n == 1 else np.nan)
        )
        # orders
        single = buys[buys["order_id"].isna()] if "order_id" in tx.columns else buys
        orders = list(zip(single["t"], single["amount"], strict=True))  # a line, an order
        if "order_id" in tx.columns:
            orders += [(g["t"].min(), g["amount"].sum()) for _, g in buys.groupby("order_id")]
        times = [o[0] for o in orders]
        values = [o[1] for o in orders]
        row["days_since_last_purchase"] = c - max(times) if times else np.nan
        row["days_since_first_purchase"] = c - min(times) if times else np.nan
        row["n_orders"] = len(orders)
        row["revenue"] = float(sum(values))
        row["avg_order_value"] = float(np.mean(values)) if values else np.nan
        row["max_order_value"] = max(values) if values else np.nan
        for w in windows:
            recent = [v for t, v in orders if c - w <= t < c]
            previous = [v for t, v in orders if c - 2 * w <= t < c - w]
            row[f"n_orders_{w}d"] = len(recent)
            row[f"revenue_{w}d"] = float(sum(recent))
            row[f"orders_trend_{w}d"] = (len(recent) + 1) / (len(previous) + 1)
        gaps = np.diff(days)
        row["gap_std_days"] = float(np.std(gaps, ddof=1)) if len(gaps) > 1 else np.nan
        row["gap_mean_days"] = float(np.mean(gaps)) if len(gaps) else np.nan
        row["overdue_ratio"] = (
            _ratio(row["days_since_last_purchase"], row["gap_mean_days"]) if len(gaps) else np.nan
        )
        # mix
        for col, name in (("category", "n_categories"), ("channel", "n_channels")):
            if col in tx.columns:
                row[name] = buys[col].dropna().nunique()
        gross = buys["amount"].sum()
        row["return_share"] = _ratio(mine.loc[mine["is_return"], "amount"].sum(), gross)
        if "discount" in tx.columns:
            disc = buys["discount"].sum()
            row["discount_share"] = _ratio(disc, gross + disc)
        if ix is not None:
            mine_ix = ix[ix["customer_id"] == cid]
            _interaction_features(row, mine_ix, c, windows, event_types)
            _touch_features(row, mine_ix, c, times)
        if cust is not None:
            _attribute_features(row, cust, cid, c)
        rows.append(row)
    return pd.DataFrame(rows, columns=["customer_id"] if not rows else None).set_index(
        "customer_id"
    )


def _touch_features(row: dict, ev: pd.DataFrame, c: float, order_times: list[float]) -> None:
    """Purchases and every interaction but e-mails sent, campaign contacts, cancellations."""
    others = ["email_sent", "campaign_contact", "cancellation"]
    own = ev.loc[~ev["event_type"].isin(others), "t"].tolist()
    touches = own + order_times
    row["days_since_last_touch"] = c - max(touches) if touches else np.nan
    row["touches"] = len(touches)
    row["touches_per_day"] = len(touches) / (c - min(touches) + 1) if touches else np.nan


def _interaction_features(
    row: dict, ev: pd.DataFrame, c: float, windows: tuple[int, ...], event_types: tuple[str, ...]
) -> None:
    def count(kinds: list[str], lo: float, hi: float) -> int:
        return int(
            ((ev["event_type"].isin(kinds)) & (ev["t"] >= c - hi) & (ev["t"] < c - lo)).sum()
        )

    for e in event_types:
        for w in windows:
            row[f"n_{e}_{w}d"] = count([e], 0, w)
        ts = ev.loc[ev["event_type"] == e, "t"]
        row[f"days_since_last_{e}"] = c - ts.max() if len(ts) else np.nan
    for w in windows:
        row[f"email_ctr_{w}d"] = _ratio(count(["email_click"], 0, w), count(["email_sent"], 0, w))
        visits = ["web_visit", "app_visit"]
        row[f"visits_trend_{w}d"] = (count(visits, 0, w) + 1) / (count(visits, w, 2 * w) + 1)
    if "value" in ev.columns:
        for s in SURVEYS:
            answers = ev[ev["event_type"] == s]
            latest = answers[answers["t"] == answers["t"].max()]["value"]
            row[f"{s}_last"] = latest.mean() if len(latest) else np.nan
            row[f"{s}_mean"] = answers["value"].mean() if len(answers) else np.nan
        last = row["nps_last"]
        row["nps_class"] = (
            np.nan
            if pd.isna(last)
            else "promoter"
            if last >= 9
            else "passive"
            if last >= 7
            else "detractor"
        )
    tickets = ev[ev["event_type"] == "support_ticket"]
    row["n_support_tickets"] = len(tickets)
    if "resolved_first_contact" in ev.columns:
        row["fcr_share"] = (
            tickets["resolved_first_contact"].dropna().astype(float).mean()
            if tickets["resolved_first_contact"].notna().any()
            else np.nan
        )
    if "value" in ev.columns:
        row["resolution_hours_mean"] = (
            tickets["value"].mean() if tickets["value"].notna().any() else np.nan
        )
    row["n_referrals"] = int((ev["event_type"] == "referral").sum())


def _attribute_features(row: dict, cust: pd.DataFrame, cid: object, c: float) -> None:
    mine = cust[cust["customer_id"] == cid]
    signed = (
        mine
        if "signup_date" not in cust
        else mine[mine["signup_date"].isna() | (mine["signup_date"] < EPOCH + pd.Timedelta(days=c))]
    )
    if "signup_date" in cust:
        row["tenure_days"] = (
            c - _days(signed["signup_date"].iloc[0])
            if len(signed) and pd.notna(signed["signup_date"].iloc[0])
            else np.nan
        )
    for col in cust.columns:
        if col not in ("customer_id", "signup_date"):
            row[col] = signed[col].iloc[0] if len(signed) else np.nan
