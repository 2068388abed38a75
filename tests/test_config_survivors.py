"""Config behaviour a second mutation audit found untested: the message for an empty holdout,
an upper-case report extension, and empty mappings among the flattened (MLflow) settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxml.config import flatten, parse_config
from cxml.errors import ConfigError

MINIMAL = {"name": "demo", "data": {"dataset": {"name": "cdnow"}}}


def test_an_empty_holdout_is_refused_saying_a_date_is_allowed_too() -> None:
    """`holdout:` left empty read 'must be one of "auto"', as if no date were allowed."""
    with pytest.raises(ConfigError) as info:
        parse_config({**MINIMAL, "training": {"holdout": None}})
    assert 'training.holdout: must be "auto" or a date like 1998-01-01, got null' in str(info.value)


def test_a_report_path_ending_in_upper_case_html_is_accepted() -> None:
    """Like `write_report`, the config takes Report.HTML as an HTML file name."""
    config = parse_config({**MINIMAL, "output": {"report": "out/Report.HTML"}})
    assert config.output.report == Path("out/Report.HTML")


def test_flatten_keeps_an_empty_mapping_as_a_setting() -> None:
    """Empty mappings vanished from the logged params, so runs compared key by key showed
    `data.event_types` only for the runs that set one."""
    flat = flatten(parse_config(MINIMAL))
    assert flat["data.event_types"] == "{}"
    assert flat["data.mapping.transactions"] == "{}"
