"""Where the time of `ours` goes: one survey partition through Dagster, with a timer per stage.

    .venv/bin/python benchmarks/stage_times.py 100000

Starts the benchmark sandbox for R responses (export cache shared with run.py), then runs the
`ours` contender in this process with timers wrapped around the stages (download, inflate, the
normalizer's flatten / classify / build passes, each IO-manager write) and prints each stage's
seconds and the peak RSS after it. A measuring aid only: run.py's figures come from unwrapped runs.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "benchmarks")]


def _peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _timed(owner, name: str, started: float) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        t0 = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            print(f"  {owner.__name__}.{name:<16} {time.monotonic() - t0:7.2f} s   ends at "
                  f"{time.monotonic() - started:6.2f} s   peak RSS {_peak_mib()} MiB", flush=True)

    setattr(owner, name, wrapper)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("responses", type=int)
    p.add_argument("--cache-dir", default=os.path.join(ROOT, "benchmarks", "results", "cache"))
    args = p.parse_args()

    import contenders
    from run import SandboxProcess, warm_export

    from qualtrics_assets.normalize.responses import ResponseNormalizer
    from qualtrics_assets.qualtrics import exports
    from qualtrics_assets.warehouse.io_manager import QualtricsWarehouseIOManager

    sandbox = SandboxProcess(args.responses, copies=2, seed=1, cache_dir=args.cache_dir)
    try:
        warm_export(sandbox)
        started = time.monotonic()
        _timed(exports.ResponseExport, "_fetch_file", started)
        _timed(exports.ResponseExport, "_download", started)
        for stage in ("_flatten", "_classify", "_build"):
            _timed(ResponseNormalizer, stage, started)
        _timed(QualtricsWarehouseIOManager, "handle_output", started)
        with tempfile.TemporaryDirectory(prefix="bench-stages-") as work:
            env = {k: v for k, v in sandbox.env.items() if k.startswith("QUALTRICS_")}
            result = contenders.ours(env, sandbox.survey_id, work)
        print(f"ours: {result['work_s']:.2f} s for {result['rows']}, peak RSS {_peak_mib()} MiB")
    finally:
        sandbox.close()


if __name__ == "__main__":
    main()
