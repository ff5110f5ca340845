"""One benchmark contender per process: `python benchmarks/contenders.py NAME SURVEY_ID RESULT_JSON`.

Reads QUALTRICS_BASE_URL / QUALTRICS_CLIENT_ID / QUALTRICS_CLIENT_SECRET / QUALTRICS_API_TOKEN and
BENCH_WORKDIR (a scratch directory) from the environment, does its work once and writes
`{"work_s": ..., "responses": ..., ...}` to RESULT_JSON. `work_s` runs from "start the export" to
"rows committed" (imports and interpreter start-up excluded; the parent also records the whole
process's wall time and peak RSS).

Contenders:
  floor   download the export over loopback, unzip and json.loads every record; nothing else
  ours    materialize the survey_responses multi-asset for the survey partition through Dagster
          (export -> normalize -> DuckDB tables) into a fresh DuckDB file
  pandas  what users write: json_normalize, melt values and labels to long, write three tables to DuckDB
  dlt     dlt pipeline, records from the export -> duckdb destination (dlt's own nesting)
  ours_incremental   `ours` again on the warehouse `ours` left (BENCH_WAREHOUSE), after the harness
          changed responses in the sandbox: the incremental sync
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

POLL_S = 0.05


# ---- a plain export download, as a user script would do it ----------------------------------------
def download_export(base_url: str, token: str, survey_id: str, directory: str) -> str:
    """POST an NDJSON export (sorted by last modified, like ours), poll, stream the zip to disk."""
    import requests

    api = f"{base_url}/API/v3/surveys/{survey_id}/export-responses"
    headers = {"X-API-TOKEN": token}
    with requests.Session() as s:
        body = {"format": "ndjson", "compress": True, "sortByLastModifiedDate": True}
        progress_id = s.post(api, json=body, headers=headers, timeout=60).json()["result"]["progressId"]
        while True:
            result = s.get(f"{api}/{progress_id}", headers=headers, timeout=60).json()["result"]
            if result["status"] == "complete":
                break
            if result["status"] == "failed":
                raise RuntimeError(f"export failed: {result}")
            time.sleep(POLL_S)
        path = os.path.join(directory, "export.zip")
        with s.get(f"{api}/{result['fileId']}/file", headers=headers, stream=True, timeout=600) as r, \
                open(path, "wb") as out:
            r.raise_for_status()
            for chunk in r.iter_content(1 << 20):
                out.write(chunk)
    return path


def iter_records(zip_path: str, keep: tuple[str, ...] | None = None):
    """Every record of the export; with `keep`, only those keys of each record (what the peers load)."""
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            with zf.open(name) as fh:
                for line in fh:
                    if line.strip(b" \t\r\n{}"):
                        record = json.loads(line)
                        yield record if keep is None else {k: record[k] for k in keep if k in record}


# The peers load what ours loads: the id, the values and their labels (not displayedFields/Values).
LOADED_KEYS = ("responseId", "values", "labels")


# ---- contenders ---------------------------------------------------------------------------------------
def floor(env: dict, survey_id: str, work: str) -> dict:
    t0 = time.monotonic()
    path = download_export(env["QUALTRICS_BASE_URL"], env["QUALTRICS_API_TOKEN"], survey_id, work)
    t_download = time.monotonic()
    n = values = 0
    for record in iter_records(path):
        n += 1
        values += len(record["values"])
    t1 = time.monotonic()
    return {"work_s": t1 - t0, "download_s": t_download - t0, "parse_s": t1 - t_download, "responses": n,
            "values": values, "export_bytes": os.path.getsize(path)}


def ours(env: dict, survey_id: str, work: str) -> dict:
    import dagster as dg
    import duckdb
    from dagster_duckdb import DuckDBResource

    from qualtrics_assets.assets.responses import survey_responses
    from qualtrics_assets.resource import QualtricsResource
    from qualtrics_assets.warehouse.io_manager import QualtricsWarehouseIOManager

    warehouse_file = os.environ.get("BENCH_WAREHOUSE") or os.path.join(work, "ours.duckdb")
    warehouse = DuckDBResource(database=warehouse_file)
    resources = {
        "qualtrics": QualtricsResource(
            base_url=env["QUALTRICS_BASE_URL"], client_id=env["QUALTRICS_CLIENT_ID"],
            client_secret=env["QUALTRICS_CLIENT_SECRET"], poll_initial_s=0.01, poll_max_s=0.05,
            backoff_initial_s=0.01, backoff_max_s=0.05, read_timeout_s=600),
        "warehouse": warehouse,  # the asset reads sync state from it once incremental syncs exist
        "io_manager": QualtricsWarehouseIOManager(duckdb=warehouse),
    }
    os.makedirs(os.path.join(work, "dagster_home"), exist_ok=True)
    with dg.instance_for_test(temp_dir=os.path.join(work, "dagster_home")) as instance:
        instance.add_dynamic_partitions("survey", [survey_id])
        t0 = time.monotonic()
        result = dg.materialize([survey_responses], partition_key=survey_id, resources=resources, instance=instance)
        t1 = time.monotonic()
        assert result.success
    with duckdb.connect(warehouse_file, read_only=True) as con:
        counts = {t: con.execute(f"SELECT count(*) FROM qualtrics.{t}").fetchone()[0]
                  for t in ("responses", "answers", "embedded_data")}
    return {"work_s": t1 - t0, "responses": counts["responses"], "rows": counts,
            "warehouse_bytes": os.path.getsize(warehouse_file)}


def pandas_peer(env: dict, survey_id: str, work: str) -> dict:
    import duckdb
    import pandas as pd

    t0 = time.monotonic()
    path = download_export(env["QUALTRICS_BASE_URL"], env["QUALTRICS_API_TOKEN"], survey_id, work)
    records = list(iter_records(path, LOADED_KEYS))
    wide = pd.json_normalize(records, max_level=1)
    del records
    value_cols = [c for c in wide.columns if c.startswith("values.")]
    label_cols = [c for c in wide.columns if c.startswith("labels.")]
    meta_keys = {"startDate", "endDate", "status", "ipAddress", "progress", "duration", "finished", "recordedDate",
                 "_recordId", "recipientLastName", "recipientFirstName", "recipientEmail", "externalDataReference",
                 "locationLatitude", "locationLongitude", "distributionChannel", "userLanguage", "_lastModifiedDate"}
    meta_cols = [c for c in value_cols if c[len("values."):] in meta_keys]
    answer_cols = [c for c in value_cols if c not in meta_cols and "QID" in c]
    embedded_cols = [c for c in value_cols if c not in meta_cols and c not in answer_cols]
    responses = wide[["responseId", *meta_cols]].rename(columns=lambda c: c.replace("values.", ""))
    values = wide.melt(id_vars="responseId", value_vars=answer_cols, var_name="field", value_name="value")
    values = values.dropna(subset=["value"]).explode("value")
    values["field"] = values["field"].str.slice(len("values."))
    labels = wide.melt(id_vars="responseId", value_vars=label_cols, var_name="field", value_name="label")
    labels = labels.dropna(subset=["label"]).explode("label")
    labels["field"] = labels["field"].str.slice(len("labels."))
    labels = labels.drop_duplicates(["responseId", "field"])
    answers = values.merge(labels, on=["responseId", "field"], how="left")
    answers["value"] = answers["value"].astype(str)
    answers["value_number"] = pd.to_numeric(answers["value"], errors="coerce")
    embedded = wide.melt(id_vars="responseId", value_vars=embedded_cols, var_name="key", value_name="value")
    embedded = embedded.dropna(subset=["value"])
    embedded["key"] = embedded["key"].str.slice(len("values."))
    del wide
    for column in ("startDate", "endDate", "recordedDate", "_lastModifiedDate"):
        if column in responses:
            responses[column] = pd.to_datetime(responses[column], utc=True, format="ISO8601")
    warehouse_file = os.path.join(work, "pandas.duckdb")
    with duckdb.connect(warehouse_file) as con:
        for name, frame in (("responses", responses), ("answers", answers), ("embedded_data", embedded)):
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("responses", "answers", "embedded_data")}
    t1 = time.monotonic()
    return {"work_s": t1 - t0, "responses": counts["responses"], "rows": counts}


def dlt_peer(env: dict, survey_id: str, work: str) -> dict:
    os.environ.setdefault("DLT_DATA_DIR", os.path.join(work, "dlt_data"))
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import dlt

    t0 = time.monotonic()
    path = download_export(env["QUALTRICS_BASE_URL"], env["QUALTRICS_API_TOKEN"], survey_id, work)
    warehouse_file = os.path.join(work, "dlt.duckdb")

    @dlt.resource(name="responses", write_disposition="replace", primary_key="responseId")
    def responses():
        yield from iter_records(path, LOADED_KEYS)

    pipeline = dlt.pipeline(pipeline_name="qualtrics_bench", destination=dlt.destinations.duckdb(warehouse_file),
                            dataset_name="qualtrics", pipelines_dir=os.path.join(work, "dlt_pipelines"))
    info = pipeline.run(responses())
    info.raise_on_failed_jobs()
    t1 = time.monotonic()
    import duckdb

    with duckdb.connect(warehouse_file, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'qualtrics' "
            "AND table_name NOT LIKE '_dlt%'").fetchall()]
        counts = {t: con.execute(f'SELECT count(*) FROM qualtrics."{t}"').fetchone()[0] for t in tables}
    return {"work_s": t1 - t0, "responses": counts.get("responses", 0), "rows": counts,
            "tables": len(tables)}


CONTENDERS = {"floor": floor, "ours": ours, "ours_incremental": ours, "pandas": pandas_peer, "dlt": dlt_peer}


def main() -> None:
    name, survey_id, out = sys.argv[1:4]
    env = {k: os.environ[k] for k in ("QUALTRICS_BASE_URL", "QUALTRICS_CLIENT_ID", "QUALTRICS_CLIENT_SECRET",
                                      "QUALTRICS_API_TOKEN")}
    work = os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp(prefix=f"bench-{name}-")
    result = CONTENDERS[name](env, survey_id, work)
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
