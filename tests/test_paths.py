"""`check_writable`: output paths checked before any work, cluster paths left to Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxml.errors import ParameterError
from cxml.paths import check_writable


def test_a_cluster_path_is_not_checked_against_the_local_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3://bucket/... read as a local path is ./s3:/bucket/...: a local file named "s3:"
    made a Spark output path look unwritable."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s3:").write_text("not a folder")
    with pytest.raises(ParameterError, match="is a file, not a folder"):
        check_writable(tmp_path / "s3:" / "bucket" / "scores.parquet", "output")  # local
    check_writable(Path("s3://bucket/scores.parquet"), "output")
