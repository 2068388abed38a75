"""Customer-experience KPIs from the interaction log: surveys and support.

Survey and support KPIs count answers and tickets dated in the period (not customers): a
customer who answers twice counts twice, as survey tools report them.
"""

from __future__ import annotations

import narwhals as nw

from cxml.data.engine import collect
from cxml.data.sums import exact_total
from cxml.kpis.catalogue import names
from cxml.kpis.inputs import Inputs, Measures, measure


def _is(event: str) -> nw.Expr:
    return nw.col("event_type") == event


def _count(condition: nw.Expr) -> nw.Expr:
    return nw.when(condition).then(1).count()


def survey_and_support_kpis(inputs: Inputs) -> Measures:
    """NPS, CSAT, CES, first-contact resolution and resolution time."""
    kpis = names("surveys", "support")
    rows = inputs.rows("interactions")
    if isinstance(rows, str):
        return dict.fromkeys(kpis, rows)
    columns = rows.collect_schema().names()
    has_value = "value" in columns
    has_fcr = "resolved_first_contact" in columns
    # No row filter on event_type: each aggregate selects its own type, and on DuckDB these
    # conditional counts measured about twice as fast as an is_in filter on event_type.
    value = nw.col("value") if has_value else nw.lit(None, nw.Float64)
    answered = ~value.is_null()
    fcr = nw.col("resolved_first_contact") if has_fcr else nw.lit(None, nw.Boolean)
    ticket = _is("support_ticket")
    c = collect(
        rows.group_by("segment", "period").agg(
            nps_answers=_count(_is("nps") & answered),
            promoters=_count(_is("nps") & (value >= 9)),
            detractors=_count(_is("nps") & (value <= 6)),
            csat_answers=_count(_is("csat") & answered),
            satisfied=_count(_is("csat") & (value >= 4)),
            csat_sum=exact_total(nw.when(_is("csat")).then(value)),
            ces_answers=_count(_is("ces") & answered),
            ces_sum=exact_total(nw.when(_is("ces")).then(value)),
            fcr_known=_count(ticket & ~fcr.is_null()),
            fcr_yes=_count(ticket & fcr),
            timed=_count(ticket & answered),
            hours=exact_total(nw.when(ticket).then(value)),
        )
    )
    measures: Measures = {
        "nps": measure(c, c["promoters"] - c["detractors"], c["nps_answers"]),
        "csat_satisfied_share": measure(c, c["satisfied"], c["csat_answers"]),
        "csat_mean": measure(c, c["csat_sum"], c["csat_answers"]),
        "ces_mean": measure(c, c["ces_sum"], c["ces_answers"]),
        "first_contact_resolution_rate": measure(c, c["fcr_yes"], c["fcr_known"]),
        "average_resolution_hours": measure(c, c["hours"], c["timed"]),
    }
    # A KPI with no input anywhere before the end is not available, never 0.
    missing = {
        "nps": "no nps answers with a value",
        "csat_satisfied_share": "no csat answers with a value",
        "csat_mean": "no csat answers with a value",
        "ces_mean": "no ces answers with a value",
        "first_contact_resolution_rate": "no support tickets with resolved_first_contact",
        "average_resolution_hours": "no support tickets with a resolution time (value)",
    }
    for name in kpis:
        if measures[name]["denominator"].sum() == 0:
            measures[name] = f"{missing[name]} before the end"
    return measures
