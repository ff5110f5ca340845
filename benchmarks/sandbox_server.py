"""The benchmark's Qualtrics: one sandbox survey of R responses x ~40 questions, in its own process.

    .venv/bin/python benchmarks/sandbox_server.py --responses 100000 --copies 2 --cache-dir benchmarks/results/cache

Like `python -m qualtrics_assets_tests.sandbox` (prints `QUALTRICS_*=...` lines and `# surveys: SV_...`,
then serves until SIGTERM), plus two benchmark-only twists that never touch the test sandbox:

* the survey is widened with `generator.widen_survey(survey, copies)` (2 copies: 40 questions of
  every type, loop & merge, six embedded-data fields);
* finished export files are cached by request (format, windows, filters, sort, continuation, the
  survey's overlay state): every contender downloads byte-for-byte the same file, and only the
  first export pays the sandbox's pure-Python generation. With `--cache-dir` the cache survives
  across runs (keyed also by a hash of the generator sources), so a 1M-response export is
  generated once per machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import sys
import threading
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from qualtrics_assets_tests.sandbox import Sandbox, exports, generator  # noqa: E402
from qualtrics_assets_tests.sandbox.__main__ import serve  # noqa: E402


def _sources_hash() -> str:
    h = hashlib.sha256()
    for mod in (generator, exports):
        with open(mod.__file__, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:12]


def install_export_cache(cache_dir: str, tag: str) -> None:
    """Wrap `exports.write_file` so identical export requests reuse one finished file."""
    original = exports.write_file
    os.makedirs(cache_dir, exist_ok=True)
    lock = threading.Lock()

    def cached_write_file(job, snap, directory):
        req = job.request
        # allowContinuation only adds a token to the progress answer (the server keeps it): same file.
        cacheable = not (req.in_progress or req.continuation_token or job.since)
        if not cacheable or job.fail or job.stuck:
            return original(job, snap, directory)
        overlay = snap.overlay
        key = repr((tag, snap.survey.id, snap.survey.n_base, len(snap.survey.questions),
                    dataclasses.replace(req, allow_continuation=False),
                    len(overlay.added), sorted(overlay.deleted), sorted(overlay.edits)))
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        path = os.path.join(cache_dir, f"export-{digest}.{'zip' if req.compress else req.format}")
        meta = path + ".rows"
        with lock:  # one generation per key, even for concurrent requests
            if not (os.path.exists(path) and os.path.exists(meta)):
                shadow = dataclasses.replace(job, done=threading.Event())  # `job` stays inProgress meanwhile
                original(shadow, snap, directory)
                if shadow.error or shadow.path is None:
                    job.error = shadow.error or "no file"
                    job.done.set()
                    return
                shutil.move(shadow.path, path + ".tmp")
                os.replace(path + ".tmp", path)
                with open(meta, "w") as f:
                    f.write(str(shadow.rows))
            with open(meta) as f:
                job.rows = int(f.read())
            job.path, job.size = path, os.path.getsize(path)
            job.file_id = f"{uuid.uuid4()}-def"
            job.done.set()

    exports.write_file = cached_write_file


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--responses", type=int, required=True)
    p.add_argument("--copies", type=int, default=2, help="extra copies of the question blocks (2: 40 questions)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cache-dir", default=None, help="persistent export cache (default: a temp dir)")
    args = p.parse_args(argv)

    sb = Sandbox(seed=args.seed, survey_sizes=[args.responses], export_polls=1, port=args.port)
    survey = sb.account.surveys[sb.survey_ids[0]]
    with sb.account.lock:
        generator.widen_survey(survey, args.copies)
    cache_dir = args.cache_dir or os.path.join(sb.server.tmpdir, "cache")
    install_export_cache(cache_dir, f"{_sources_hash()}|seed={args.seed}|copies={args.copies}")
    serve(sb, notes=(f"questions: {len(survey.questions)}",))


if __name__ == "__main__":
    main()
