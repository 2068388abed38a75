"""The reference the snapshot benchmark compares against: the default feature set written by
hand as one DuckDB SQL query (FILTER clauses, LAG for gaps, ARG_MIN for the first purchase
day's value), without cxml's feature code."""

from __future__ import annotations

from cxml.features.spec import DEFAULT_EVENT_TYPES, FeatureSpec

# The same feature set as cxml's defaults; only the computation is written by hand.
WINDOWS = FeatureSpec().windows
EVENT_TYPES = DEFAULT_EVENT_TYPES


def snapshot_sql(transactions: str, interactions: str, cutoff: str) -> str:
    """SQL computing the default snapshot features from two Parquet paths at `cutoff`."""
    c = f"TIMESTAMP '{cutoff}'"
    t = "(epoch_us(timestamp) / 86400000000.0)"
    cd = f"(epoch_us({c}) / 86400000000.0)"
    win_orders = ",\n".join(
        f"count(*) FILTER (WHERE t >= {cd} - {w}) AS n_orders_{w}d, "
        f"coalesce(sum(value) FILTER (WHERE t >= {cd} - {w}), 0) AS revenue_{w}d, "
        f"(count(*) FILTER (WHERE t >= {cd} - {w}) + 1.0) / "
        f"(count(*) FILTER (WHERE t >= {cd} - {2 * w} AND t < {cd} - {w}) + 1.0) "
        f"AS orders_trend_{w}d"
        for w in WINDOWS
    )
    win_events = ",\n".join(
        f"count(*) FILTER (WHERE event_type = '{e}' AND t >= {cd} - {w}) AS n_{e}_{w}d"
        for e in EVENT_TYPES
        for w in WINDOWS
    )
    last_events = ",\n".join(
        f"{cd} - max(t) FILTER (WHERE event_type = '{e}') AS days_since_last_{e}"
        for e in EVENT_TYPES
    )
    visits = "event_type IN ('web_visit', 'app_visit')"
    rates = ",\n".join(
        f"count(*) FILTER (WHERE event_type = 'email_click' AND t >= {cd} - {w}) / "
        f"nullif(count(*) FILTER (WHERE event_type = 'email_sent' AND t >= {cd} - {w}), 0) "
        f"AS email_ctr_{w}d, "
        f"(count(*) FILTER (WHERE {visits} AND t >= {cd} - {w}) + 1.0) / "
        f"(count(*) FILTER (WHERE {visits} AND t >= {cd} - {2 * w} AND t < {cd} - {w}) + 1.0)"
        f" AS visits_trend_{w}d"
        for w in WINDOWS
    )
    surveys = ",\n".join(
        f"avg(value) FILTER (WHERE event_type = '{s}') AS {s}_mean" for s in ("nps", "csat", "ces")
    )
    latest = ",\n".join(
        f"avg(value) FILTER (WHERE event_type = '{s}') AS {s}_last" for s in ("nps", "csat", "ces")
    )
    zero = (
        [f"n_orders_{w}d" for w in WINDOWS]
        + [f"revenue_{w}d" for w in WINDOWS]
        + [f"n_{e}_{w}d" for e in EVENT_TYPES for w in WINDOWS]
        + ["n_orders", "revenue", "n_support_tickets", "n_referrals", "n_categories", "n_channels"]
    )
    one = [f"orders_trend_{w}d" for w in WINDOWS] + [f"visits_trend_{w}d" for w in WINDOWS]
    fill = ", ".join(
        [f"coalesce({c}, 0) AS {c}" for c in zero] + [f"coalesce({c}, 1.0) AS {c}" for c in one]
    )
    return f"""
SELECT * REPLACE ({fill}) FROM (
WITH lines AS (
    SELECT customer_id, order_id, amount, is_return, category, channel, discount, {t} AS t
    FROM read_parquet('{transactions}') WHERE timestamp < {c}
),
orders AS (
    SELECT customer_id, min(t) AS t, sum(amount) AS value
    FROM lines WHERE NOT is_return GROUP BY customer_id, order_id
),
days AS (
    SELECT customer_id, floor(t) AS day, sum(amount) AS amount
    FROM lines WHERE NOT is_return GROUP BY customer_id, floor(t)
),
gaps AS (
    SELECT customer_id, day, amount,
           day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap
    FROM days
),
btyd AS (
    SELECT customer_id, count(*) AS n_days, min(day) AS first_day, max(day) AS last_day,
           sum(amount) - arg_min(amount, day) AS repeat_amount,
           stddev_samp(gap) AS gap_std_days
    FROM gaps GROUP BY customer_id
),
ord AS (
    SELECT customer_id, count(*) AS n_orders, sum(value) AS revenue,
           avg(value) AS avg_order_value, max(value) AS max_order_value,
           min(t) AS first_t, max(t) AS last_t,
           {win_orders}
    FROM orders GROUP BY customer_id
),
mix AS (
    SELECT customer_id,
           count(DISTINCT category) FILTER (WHERE NOT is_return) AS n_categories,
           count(DISTINCT channel) FILTER (WHERE NOT is_return) AS n_channels,
           coalesce(sum(amount) FILTER (WHERE NOT is_return), 0) AS gross,
           coalesce(sum(amount) FILTER (WHERE is_return), 0) AS returned,
           coalesce(sum(discount) FILTER (WHERE NOT is_return), 0) AS discount
    FROM lines GROUP BY customer_id
),
events AS (
    SELECT customer_id, event_type, value, resolved_first_contact, {t} AS t
    FROM read_parquet('{interactions}') WHERE timestamp < {c}
),
ev AS (
    SELECT customer_id,
           {win_events},
           {last_events},
           {rates},
           {surveys},
           count(*) FILTER (WHERE event_type = 'support_ticket') AS n_support_tickets,
           avg(resolved_first_contact::DOUBLE) FILTER (WHERE event_type = 'support_ticket')
               AS fcr_share,
           avg(value) FILTER (WHERE event_type = 'support_ticket') AS resolution_hours_mean,
           count(*) FILTER (WHERE event_type = 'referral') AS n_referrals
    FROM events GROUP BY customer_id
),
latest AS (
    SELECT customer_id, {latest}
    FROM (SELECT *, t = max(t) OVER (PARTITION BY customer_id, event_type) AS is_latest
          FROM events WHERE event_type IN ('nps', 'csat', 'ces'))
    WHERE is_latest GROUP BY customer_id
),
population AS (
    SELECT customer_id FROM lines UNION SELECT customer_id FROM events
)
SELECT p.customer_id,
       b.n_days - 1 AS frequency,
       (b.last_day - b.first_day) / 1.0 AS recency,
       (ceil({cd}) - 1 - b.first_day) / 1.0 AS T,
       CASE WHEN b.n_days > 1 THEN b.repeat_amount / (b.n_days - 1)
            WHEN b.n_days = 1 THEN 0.0 END AS monetary_value,
       {cd} - o.last_t AS days_since_last_purchase,
       {cd} - o.first_t AS days_since_first_purchase,
       o.* EXCLUDE (customer_id, first_t, last_t),
       b.gap_std_days,
       CASE WHEN b.n_days > 1 THEN (b.last_day - b.first_day) / (b.n_days - 1) END
           AS gap_mean_days,
       ({cd} - o.last_t) / nullif((b.last_day - b.first_day) / (b.n_days - 1), 0)
           AS overdue_ratio,
       m.n_categories, m.n_channels,
       m.returned / nullif(m.gross, 0) AS return_share,
       m.discount / nullif(m.gross + m.discount, 0) AS discount_share,
       e.* EXCLUDE (customer_id),
       l.* EXCLUDE (customer_id),
       CASE WHEN l.nps_last >= 9 THEN 'promoter' WHEN l.nps_last >= 7 THEN 'passive'
            WHEN l.nps_last >= 0 THEN 'detractor' END AS nps_class
FROM population p
LEFT JOIN btyd b USING (customer_id)
LEFT JOIN ord o USING (customer_id)
LEFT JOIN mix m USING (customer_id)
LEFT JOIN ev e USING (customer_id)
LEFT JOIN latest l USING (customer_id)
) ORDER BY customer_id
"""
