"""The HTML report: KPIs, cohorts, NPS, holdout evaluation, segments and the action plan in
one self-contained file (see docs/report.md)."""

from cxml.report.build import build_report, check_path, write_report
from cxml.report.errors import ReportError

__all__ = ["ReportError", "build_report", "check_path", "write_report"]
