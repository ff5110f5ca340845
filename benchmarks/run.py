"""Side-by-side benchmark: the floor, ours, and what users do instead, on the same export.

    .venv/bin/python benchmarks/run.py                       # R = 10k and 100k, all contenders
    .venv/bin/python benchmarks/run.py --sizes 10000,100000,1000000 --peers-max 100000
    .venv/bin/python benchmarks/run.py --sizes 200 --contenders floor,ours   # smoke

For each size R it starts `benchmarks/sandbox_server.py` (a separate process: one survey of R
responses x 40 questions with embedded data, export files cached so every contender downloads the
same bytes), warms the export once (not timed), then runs each contender in its own process
(`benchmarks/contenders.py`) one after the other, and takes from the OS the child's wall time and
peak RSS (`os.wait4` rusage: whole process, DuckDB included). Prints a table and writes
`benchmarks/results/bench-<timestamp>.json` (and `latest.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benchmarks")
ALL = ("floor", "ours", "pandas", "dlt")  # + ours_incremental, run after ours when the project has it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    def __init__(self, responses: int, copies: int, seed: int, cache_dir: str | None):
        cmd = [sys.executable, os.path.join(HERE, "sandbox_server.py"), "--responses", str(responses),
               "--copies", str(copies), "--seed", str(seed), "--port", str(free_port())]
        if cache_dir:
            cmd += ["--cache-dir", cache_dir]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.env: dict[str, str] = {}
        self.questions = 0
        self.survey_id = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("# questions:"):
                self.questions = int(line.split(":", 1)[1])
            elif line.startswith("# surveys:"):
                self.survey_id = line.split(":", 1)[1].split()[0]
                break
            elif "=" in line:
                key, _, value = line.partition("=")
                self.env[key] = value.strip("'")
        if not self.survey_id:
            raise RuntimeError("the sandbox did not start")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def warm_export(sb: SandboxProcess) -> float:
    """Export once so the sandbox caches the file; returns the preparation time."""
    sys.path.insert(0, HERE)
    from contenders import download_export

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as d:
        download_export(sb.env["QUALTRICS_BASE_URL"], sb.env["QUALTRICS_API_TOKEN"], sb.survey_id, d)
    return time.monotonic() - t0


def has_incremental_sync() -> bool:
    return os.path.exists(os.path.join(ROOT, "qualtrics_assets", "incremental.py"))


def change_responses(sb: SandboxProcess, warehouse_file: str, n: int) -> dict:
    """Edit n/2 of the earliest responses and add n - n/2 new ones, through the sandbox control API."""
    import duckdb
    import requests

    with duckdb.connect(warehouse_file, read_only=True) as con:
        ids = [r[0] for r in con.execute(
            "SELECT response_id FROM qualtrics.responses ORDER BY recorded_date LIMIT ?", [n // 2]).fetchall()]
    base = f"{sb.env['QUALTRICS_BASE_URL']}/_sandbox/surveys/{sb.survey_id}/responses"
    requests.post(f"{base}/edit", json={"responseIds": ids}, timeout=600).raise_for_status()
    requests.post(base, json={"count": n - len(ids)}, timeout=600).raise_for_status()
    return {"edited": len(ids), "added": n - len(ids)}


def run_contender(name: str, sb: SandboxProcess, timeout: float, extra_env: dict | None = None,
                  python: str = sys.executable) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
        out = os.path.join(work, "result.json")
        env = {**os.environ, **sb.env, "BENCH_WORKDIR": work, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        log_path = os.path.join(work, "log.txt")
        with open(log_path, "w") as log:
            t0 = time.monotonic()
            proc = subprocess.Popen([python, os.path.join(HERE, "contenders.py"), name, sb.survey_id, out],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            deadline = t0 + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
            wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        row: dict = {"contender": name, "process_wall_s": round(wall, 3),
                     "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                     "exit_code": proc.returncode}
        if proc.returncode == 0 and os.path.exists(out):
            with open(out) as f:
                row.update(json.load(f))
            row["work_s"] = round(row["work_s"], 3)
            row["responses_per_s"] = round(row["responses"] / row["work_s"]) if row["work_s"] else None
            row["ok"] = True
        else:
            with open(log_path) as f:
                row["error"] = f.read()[-3000:]
            row["ok"] = False
        return row


def ratios(rows: dict[str, dict]) -> dict[str, float | None]:
    def r(a: str, b: str, field: str) -> float | None:
        if rows.get(a, {}).get("ok") and rows.get(b, {}).get("ok") and rows[b][field]:
            return round(rows[a][field] / rows[b][field], 2)
        return None

    out = {"ours_over_floor_time": r("ours", "floor", "work_s"),
           "incremental_over_full_time": r("ours_incremental", "ours", "work_s")}
    for peer in ("pandas", "dlt"):
        out[f"{peer}_over_ours_time"] = r(peer, "ours", "work_s")
        out[f"{peer}_over_ours_rss"] = r(peer, "ours", "peak_rss_mib")
    return out


def print_table(results: list[dict]) -> None:
    print()
    print(f"{'R':>9} {'contender':<8} {'work s':>9} {'resp/s':>9} {'peak RSS MiB':>13} {'process s':>10} {'cpu s':>8}  rows")
    for size in results:
        for row in size["contenders"].values():
            if row.get("ok"):
                rows = row.get("rows") or {"responses": row["responses"]}
                shown = " ".join(f"{k}={v}" for k, v in list(rows.items())[:4])
                print(f"{size['responses']:>9} {row['contender']:<8} {row['work_s']:>9.2f} {row['responses_per_s']:>9} "
                      f"{row['peak_rss_mib']:>13.1f} {row['process_wall_s']:>10.2f} {row['cpu_s']:>8.2f}  {shown}")
            else:
                print(f"{size['responses']:>9} {row['contender']:<8} FAILED (exit {row['exit_code']}, "
                      f"peak RSS {row['peak_rss_mib']} MiB)")
        ratio = "  ".join(f"{k}={v}" for k, v in size["ratios"].items() if v is not None)
        print(f"{'':>9} ratios: {ratio}")
    print()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000", help="comma-separated response counts (1000000 is opt-in)")
    p.add_argument("--contenders", default=",".join(ALL), help=f"subset of {','.join(ALL)}")
    p.add_argument("--peers-max", type=int, default=100_000,
                   help="run pandas/dlt only up to this size (they hold whole exports in memory)")
    p.add_argument("--copies", type=int, default=2, help="extra question-block copies (2: 40 questions)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache-dir", default=os.path.join(HERE, "results", "cache"),
                   help="export cache kept across runs ('' for a throwaway cache)")
    p.add_argument("--timeout", type=float, default=3600, help="per contender, seconds")
    p.add_argument("--changed", type=int, default=100,
                   help="responses changed before the incremental run (0: no incremental run)")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--ours-python", default=sys.executable,
                   help="interpreter for ours (e.g. of a plain `pip install .`, without the dev extras' pyarrow)")
    args = p.parse_args(argv)

    contenders = [c for c in args.contenders.split(",") if c]
    unknown = set(contenders) - set(ALL)
    if unknown:
        p.error(f"unknown contenders {sorted(unknown)}")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "qualtrics_assets"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip())
    report: dict = {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit, "qualtrics_assets_dirty": dirty,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "copies": args.copies, "seed": args.seed, "ours_python": args.ours_python, "sizes": [],
    }
    for size in sizes:
        sb = SandboxProcess(size, args.copies, args.seed, args.cache_dir or None)
        keep = tempfile.mkdtemp(prefix="bench-warehouse-")
        try:
            prepare_s = warm_export(sb)
            print(f"R={size}: {sb.questions} questions, survey {sb.survey_id}, export prepared in {prepare_s:.1f} s",
                  flush=True)
            rows = {}
            warehouse_file = os.path.join(keep, "ours.duckdb")
            incremental = "ours" in contenders and args.changed > 0 and has_incremental_sync()
            changed = None
            for name in contenders + (["ours_incremental"] if incremental else []):
                if name in ("pandas", "dlt") and size > args.peers_max:
                    continue
                extra = {"BENCH_WAREHOUSE": warehouse_file} if name.startswith("ours") else None
                if name == "ours_incremental":
                    if not rows.get("ours", {}).get("ok"):
                        continue
                    changed = change_responses(sb, warehouse_file, args.changed)
                python = args.ours_python if name.startswith("ours") else sys.executable
                rows[name] = run_contender(name, sb, args.timeout, extra, python)
                row = rows[name]
                print(f"  {name:<7} " + (f"{row['work_s']:.2f} s, {row['peak_rss_mib']:.0f} MiB" if row["ok"]
                                         else f"FAILED: {row.get('error', '')[-500:]}"), flush=True)
        finally:
            sb.close()
            shutil.rmtree(keep, ignore_errors=True)
        report["sizes"].append({"responses": size, "questions": sb.questions, "survey_id": sb.survey_id,
                                "export_prepare_s": round(prepare_s, 2), "contenders": rows, "ratios": ratios(rows),
                                "incremental": changed if changed else (
                                    "not measured: qualtrics_assets has no incremental sync" if not has_incremental_sync()
                                    else "not measured")})
    print_table(report["sizes"])
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"bench-{stamp}-{commit}.json", "latest.json"):
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(report, f, indent=1)
    print(f"wrote {os.path.join(args.out, 'latest.json')}")
    return report


if __name__ == "__main__":
    main()
