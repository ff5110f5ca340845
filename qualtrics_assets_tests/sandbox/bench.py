"""Benchmark: time to prepare and download large NDJSON exports, and the sandbox's peak RSS.

    .venv/bin/python -m qualtrics_assets_tests.sandbox.bench 100000 1000000

Runs the sandbox in this process (so its RSS is measured), drives it over HTTP, streams the file
to /dev/null. Not part of the test suite: the timings depend on the machine.
"""

from __future__ import annotations

import sys
import threading
import time

import psutil
import requests

from . import Sandbox


def bench(n: int) -> dict:
    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], proc.memory_info().rss)

    threading.Thread(target=sample, daemon=True).start()
    with Sandbox(seed=1, survey_sizes=[n], export_polls=1) as sb:
        h = {"X-API-TOKEN": sb.api_token}
        api = f"{sb.base_url}/API/v3/surveys/{sb.survey_ids[0]}/export-responses"
        start_rss = proc.memory_info().rss
        t0 = time.monotonic()
        pid = requests.post(api, json={"format": "ndjson"}, headers=h, timeout=30).json()["result"]["progressId"]
        while (res := requests.get(f"{api}/{pid}", headers=h, timeout=30).json()["result"])["status"] == "inProgress":
            time.sleep(0.5)
        prepared = time.monotonic() - t0
        size = 0
        with requests.get(f"{api}/{res['fileId']}/file", headers=h, stream=True, timeout=600) as r:
            for chunk in r.iter_content(1 << 20):
                size += len(chunk)
        downloaded = time.monotonic() - t0 - prepared
    stop.set()
    return {"responses": n, "prepare_s": round(prepared, 1), "download_s": round(downloaded, 1),
            "zip_mib": round(size / 2**20, 1), "rss_start_mib": round(start_rss / 2**20),
            "rss_peak_mib": round(peak[0] / 2**20)}


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["100000"]:
        print(bench(int(arg)), flush=True)
