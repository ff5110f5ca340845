"""A tiny run of the benchmark harness (benchmarks/run.py): it works end to end and writes its JSON.

No timings are asserted: they depend on the machine. The full benchmark is documented in
benchmarks/README.md.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmark_harness_smoke(tmp_path):
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--sizes", "200", "--contenders", "floor,ours",
         "--changed", "0", "--cache-dir", "", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "latest.json").read_text())
    assert report["machine"]["cpu_count"] == os.cpu_count()
    (size,) = report["sizes"]
    assert size["responses"] == 200 and size["questions"] == 40
    assert set(size["contenders"]) == {"floor", "ours"}
    for name, row in size["contenders"].items():
        assert row["ok"], row.get("error")
        assert row["responses"] == 200, name
        for field in ("work_s", "responses_per_s", "peak_rss_mib", "process_wall_s", "cpu_s"):
            assert isinstance(row[field], (int, float)) and row[field] > 0, (name, field)
    assert size["contenders"]["ours"]["rows"]["responses"] == 200
    assert size["contenders"]["ours"]["rows"]["answers"] > 200 * 40
    assert isinstance(size["ratios"]["ours_over_floor_time"], float)
    assert "ours / floor" in done.stdout or "ours_over_floor_time" in done.stdout
