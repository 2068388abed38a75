"""Trial-to-paid conversion, from optional trial columns of the customers table.

The data contract has no trial fields; these customers-table columns are read when present:
``trial_start`` (timestamp, when the trial began; null = no trial) and either ``paid_start``
(timestamp of the first paid period; null = not converted) or ``converted`` (boolean). With
``paid_start`` a trial counts as converted only if ``paid_start`` is before the end, so past
periods are not rewritten by later knowledge; a ``converted`` flag cannot be dated and is
taken as it stands. Without ``trial_start`` and one of the two, the KPI is not available.
"""

from __future__ import annotations

import narwhals as nw

from cxml.data.engine import collect
from cxml.errors import DataValidationError
from cxml.kpis.inputs import Inputs, Measures, measure

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
        if column in schema and schema[column] != nw.Datetime:
            raise DataValidationError(
                "customers",
                column,
                "must be a timestamp for trial-to-paid conversion",
                f"found type {schema[column]}; pass datetimes or ISO 8601 dates",
            )
    if PAID_START in schema:
        converted = ~nw.col(PAID_START).is_null() & (nw.col(PAID_START) < inputs.end)
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
