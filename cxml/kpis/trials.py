"""Trial-to-paid conversion, from optional trial columns of the customers table.

The data contract has no trial fields; these customers-table columns are read when present:
``trial_start`` (timestamp, when the trial began; null = no trial) and either ``paid_start``
(timestamp of the first paid period; null = not converted) or ``converted`` (boolean). The
two times may be dates (an ISO date in a CSV, a Parquet date): a date is its midnight UTC. With
``paid_start`` a trial counts as converted only if ``paid_start`` is before the end, so past
periods are not rewritten by later knowledge; a ``converted`` flag cannot be dated and is
taken as it stands. Without ``trial_start`` and one of the two, the KPI is not available.
"""

from __future__ import annotations

import narwhals as nw
from narwhals.dtypes import DType

from cxml.data.engine import collect
from cxml.errors import DataValidationError
from cxml.kpis.inputs import Inputs, Measures, as_timestamp, measure

TRIAL_START = "trial_start"
PAID_START = "paid_start"
CONVERTED = "converted"


def trial_kpis(inputs: Inputs) -> Measures:
    """Trial-to-paid rate by the period the trial started."""
    customers = inputs.tables.customers
    if customers is None:
        return {"trial_to_paid_rate": "no customers table"}
    schema = customers.collect_schema()
    if TRIAL_START not in schema or not ({PAID_START, CONVERTED} & set(schema)):
        return {
            "trial_to_paid_rate": f"the customers table needs {TRIAL_START} and {PAID_START} "
            f"or {CONVERTED}"
        }
    for column in (TRIAL_START, PAID_START):
        if column in schema:
            _check_moment(column, schema[column])
    if PAID_START in schema:
        paid_start = as_timestamp(PAID_START, schema[PAID_START])
        converted = ~paid_start.is_null() & (paid_start < inputs.end)
    elif schema[CONVERTED] == nw.Boolean:
        converted = nw.col(CONVERTED).fill_null(False)
    else:
        raise DataValidationError(
            "customers",
            CONVERTED,
            "must be boolean for trial-to-paid conversion",
            f"found type {schema[CONVERTED]}; pass true/false",
        )
    trials = inputs.rows("customers", timestamp=TRIAL_START)
    if isinstance(trials, str):
        return {"trial_to_paid_rate": trials}
    counts = collect(
        trials.group_by("segment", "period").agg(
            trials=nw.len(), converted=nw.when(converted).then(1).count()
        )
    )
    if counts.empty:
        return {"trial_to_paid_rate": f"no {TRIAL_START} before the end"}
    return {"trial_to_paid_rate": measure(counts, counts["converted"], counts["trials"])}


def _check_moment(column: str, dtype: DType) -> None:
    """DataValidationError unless the trial column `column` holds timestamps or dates."""
    if not (dtype == nw.Datetime or dtype == nw.Date):
        raise DataValidationError(
            "customers",
            column,
            "must be a timestamp or a date for trial-to-paid conversion",
            f"found type {dtype}; pass datetimes or ISO 8601 dates",
        )
