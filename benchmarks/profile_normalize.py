"""Where ours spends its time, without HTTP or Dagster: parse, normalize, stage, insert.

    .venv/bin/python benchmarks/profile_normalize.py 20000              # stage timings
    .venv/bin/python benchmarks/profile_normalize.py 20000 --profile    # + pyinstrument / cProfile of normalize

Writes an NDJSON export of the benchmark survey (40 questions) once to benchmarks/results/cache,
then times, on the same records: json.loads of every line (the floor's parse), the normalizer's
batches, the Parquet staging and the DuckDB insert (the IO manager's statement).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from qualtrics_assets_tests.sandbox import exports, generator, payloads  # noqa: E402
from qualtrics_assets_tests.sandbox.account import Account  # noqa: E402


def prepare(n: int, copies: int, seed: int) -> tuple[str, dict, str]:
    account = Account(seed, [n])
    survey = next(iter(account.surveys.values()))
    generator.widen_survey(survey, copies)
    definition = payloads.definition(survey)
    cache = os.path.join(ROOT, "benchmarks", "results", "cache")
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"profile-{seed}-{copies}-{n}.ndjson")
    if not os.path.exists(path):
        snap = account.snapshot(survey.id)
        req = exports.ExportRequest("ndjson", by_last_modified=True)
        writer = exports.Writer(snap, req)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for rec in exports.iter_records(snap, req, None, writer):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        os.replace(path + ".tmp", path)
    return path, definition, survey.id


def records(path: str):
    with open(path, "rb") as f:
        for line in f:
            yield json.loads(line)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int, nargs="?", default=20000)
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()

    import duckdb

    from qualtrics_assets import erd
    from qualtrics_assets.assets import responses as responses_asset
    from qualtrics_assets.normalize.definitions import question_index
    from qualtrics_assets.normalize.responses import ResponseNormalizer
    from qualtrics_assets.warehouse.ddl import ensure_table
    from qualtrics_assets.warehouse.staging import TableStager

    batch = args.batch or responses_asset.BATCH_SIZE
    path, definition, sid = prepare(args.n, args.copies, args.seed)
    index = question_index(definition)
    from datetime import datetime

    import resource

    def peak_mib() -> float:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    rss = {"start": peak_mib()}
    t = time.perf_counter()
    n = sum(1 for _ in records(path))
    parse_s = time.perf_counter() - t
    rss["parse"] = peak_mib()

    t = time.perf_counter()
    normalizer = ResponseNormalizer(sid, index, datetime(2025, 1, 1))
    rows = {}
    for frames in normalizer.iter_batches(records(path), batch_size=batch):
        for name, frame in frames.items():
            rows[name] = rows.get(name, 0) + len(frame)
    normalize_s = time.perf_counter() - t - parse_s
    rss["normalize"] = peak_mib()

    t = time.perf_counter()
    normalizer = ResponseNormalizer(sid, index, datetime(2025, 1, 1))
    stagers = {name: TableStager(erd.table(name)) for name in ("responses", "answers", "embedded_data")}
    for frames in normalizer.iter_batches(records(path), batch_size=batch):
        for name, frame in frames.items():
            stagers[name].write(frame)
    staged = {name: s.finish() for name, s in stagers.items()}
    stage_s = time.perf_counter() - t - parse_s - normalize_s
    rss["stage"] = peak_mib()

    with tempfile.TemporaryDirectory() as d:
        con = duckdb.connect(os.path.join(d, "w.duckdb"))
        t = time.perf_counter()
        for name, table in staged.items():
            con.execute("BEGIN")
            ensure_table(con, erd.table(name))
            con.execute(f"INSERT INTO {erd.SCHEMA}.{name} BY NAME SELECT * FROM read_parquet(?)", [table.paths()])
            con.execute("COMMIT")
        insert_s = time.perf_counter() - t
        rss["insert"] = peak_mib()
        con.close()
    for table in staged.values():
        table.cleanup()
    print(json.dumps({"responses": n, "rows": rows, "batch": batch, "parse_s": round(parse_s, 2),
                      "normalize_s": round(normalize_s, 2), "stage_s": round(stage_s, 2),
                      "insert_s": round(insert_s, 2), "peak_rss_mib_after": rss}))

    if args.profile:
        from pyinstrument import Profiler

        normalizer = ResponseNormalizer(sid, index, datetime(2025, 1, 1))
        chunk = [r for _, r in zip(range(batch), records(path))]
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(3):
            normalizer.frames(chunk)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
