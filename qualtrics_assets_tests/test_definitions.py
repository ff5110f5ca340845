"""The code location loads, as `dagster dev` and `dg check defs` load it, with no flags."""

import subprocess
import sys
from pathlib import Path

import dagster as dg

from qualtrics_assets import erd
from qualtrics_assets.definitions import defs

REPO = Path(__file__).resolve().parents[1]


def test_definitions_load_with_every_erd_table_as_an_asset():
    dg.Definitions.validate_loadable(defs)
    keys = {key.path[-1] for key in defs.resolve_all_asset_keys()}
    assert keys == {t.name for t in erd.TABLES}
    for spec in defs.resolve_all_asset_specs():
        assert spec.freshness_policy is not None, spec.key
        assert spec.description, spec.key


def test_dg_check_defs_needs_no_flags():
    result = subprocess.run([str(Path(sys.executable).parent / "dg"), "check", "defs"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All definitions loaded successfully" in result.stdout + result.stderr
