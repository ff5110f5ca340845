"""One dynamic partition per survey: keys are validated survey ids (`SV_…`)."""

import dagster as dg

survey_partitions = dg.DynamicPartitionsDefinition(name="survey")
