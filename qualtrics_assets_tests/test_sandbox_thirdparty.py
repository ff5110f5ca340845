"""An unmodified third-party client (PyPI `qualtrics` 0.4.2, which takes a base_url) against the sandbox.

Skipped unless that package is installed (it is not a project dependency; see the sandbox README).
"""

import io
import zipfile
from pathlib import Path

import pytest

from qualtrics_assets_tests.sandbox import Sandbox

api = pytest.importorskip("qualtrics.api")


def test_third_party_client_lists_surveys_and_exports(tmp_path: Path):
    with Sandbox(seed=8, surveys=3, responses=12, page_size=2, export_polls=2) as sb:
        with api.QualtricsClient(sb.api_token, base_url=f"{sb.base_url}/API/v3", max_retries=0) as client:
            surveys = list(client.iter_surveys())
            assert [s.id for s in surveys] == sb.survey_ids  # followed nextPage across 2 pages
            sid = sb.survey_ids[0]
            result = client.export_responses(sid, tmp_path, poll_interval=0.01, timeout=30)
        data = Path(result.path).read_bytes()
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                data = zf.read(zf.namelist()[0])
        rows = data.decode("utf-8").splitlines()
        assert rows[0].startswith("StartDate,EndDate,Status")
        assert len(rows) >= 3 + 12  # 3 header rows + one line per response (multi-line texts add lines)
        assert result.file_id.endswith("-def")
