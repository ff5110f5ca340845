"""The code location loads, as `dagster dev` and `dg check defs` would load it."""

import dagster as dg

from qualtrics_assets.definitions import defs


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
