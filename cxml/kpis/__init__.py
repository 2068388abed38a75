"""Customer-experience KPIs per period and segment, computed from the same `Tables` as the
models (see docs/kpis.md for every definition)."""

from cxml.kpis.catalogue import KPIS, Kpi, catalogue
from cxml.kpis.cohorts import cohort_retention
from cxml.kpis.compute import compute_kpis

__all__ = ["KPIS", "Kpi", "catalogue", "cohort_retention", "compute_kpis"]
