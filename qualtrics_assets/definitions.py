"""The Definitions object Dagster loads: wires assets, resources, jobs, sensors and checks."""

import dagster as dg

defs = dg.Definitions()
