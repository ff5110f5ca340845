"""Benchmark: stream a large response export through QualtricsClient with bounded memory.

    .venv/bin/python benchmarks/client_export_memory.py 1000000        # default size
    .venv/bin/python benchmarks/client_export_memory.py 100000 --no-verify

Starts the sandbox as a separate process (`python -m qualtrics_assets_tests.sandbox`) so only the
client is measured, exports one survey of N responses as NDJSON over real HTTP, iterates every
record (json.loads per line from the temporary file) and reports wall time, records/s and the
peak RSS of *this* (client) process, sampled every 20 ms and cross-checked with
getrusage(ru_maxrss). Not a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from qualtrics_assets.qualtrics import QualtricsClient  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(n: int, port: int) -> tuple[subprocess.Popen, dict[str, str], str]:
    cmd = [sys.executable, "-m", "qualtrics_assets_tests.sandbox", "--port", str(port), "--survey-sizes", str(n),
           "--export-polls", "1", "--seed", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    env: dict[str, str] = {}
    survey = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip()
        if line.startswith("# surveys:"):
            survey = line.split(":", 1)[1].split()[0]
            break
        key, _, value = line.partition("=")
        env[key] = value.strip("'")
    return proc, env, survey


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("responses", type=int, nargs="?", default=1_000_000)
    p.add_argument("--no-verify", action="store_true", help="skip the CRC pass over the archive before iterating")
    args = p.parse_args()

    me = psutil.Process()
    peak = [me.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], me.memory_info().rss)

    sandbox, env, survey_id = start_sandbox(args.responses, free_port())
    try:
        client = QualtricsClient(env["QUALTRICS_BASE_URL"], client_id=env["QUALTRICS_CLIENT_ID"],
                                 client_secret=env["QUALTRICS_CLIENT_SECRET"], poll_initial_s=0.5, poll_max_s=2.0,
                                 read_timeout_s=600, verify_archive=not args.no_verify)
        client.whoami()
        baseline = me.memory_info().rss
        threading.Thread(target=sample, daemon=True).start()
        t0 = time.monotonic()
        with client.export_responses(survey_id) as export:
            t_ready = time.monotonic()
            n = 0
            keys = 0
            for record in export.records():
                n += 1
                keys += len(record["values"])
            t_done = time.monotonic()
            file_size = export.file_size
        stop.set()
        peak_rss = max(peak[0], me.memory_info().rss)
        ru_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        iterate_s = t_done - t_ready
        out = {
            "responses": n,
            "expected": args.responses,
            "zip_mib": round(file_size / 2**20, 1),
            "export_and_download_s": round(t_ready - t0, 1),
            "iterate_s": round(iterate_s, 1),
            "records_per_s_iterate": round(n / iterate_s) if iterate_s else None,
            "wall_s": round(t_done - t0, 1),
            "records_per_s_wall": round(n / (t_done - t0)),
            "rss_baseline_mib": round(baseline / 2**20, 1),
            "rss_peak_mib": round(peak_rss / 2**20, 1),
            "ru_maxrss_mib": round(ru_max / 2**20, 1),
            "verify_archive": not args.no_verify,
            "stats": client.stats.as_dict(),
        }
        print(json.dumps(out, indent=1))
        assert n == args.responses, "record count mismatch"
        client.close()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=60)


if __name__ == "__main__":
    main()
