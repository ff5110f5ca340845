"""Run the sandbox as a process: `python -m qualtrics_assets_tests.sandbox --port 8765 --seed 7`.

Prints shell-sourceable `QUALTRICS_*=...` lines, then serves until SIGINT/SIGTERM. Drive it from
another process through the `/_sandbox/...` control routes.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import threading

from . import Sandbox


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m qualtrics_assets_tests.sandbox", description=__doc__)
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--surveys", type=int, default=5)
    p.add_argument("--responses", type=int, default=100)
    p.add_argument("--survey-sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="comma-separated response counts, one per survey (overrides --surveys/--responses)")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--token-lifetime", type=float, default=3600)
    p.add_argument("--export-polls", type=int, default=3)
    p.add_argument("--client-id", default=None)
    p.add_argument("--client-secret", default=None)
    p.add_argument("--api-token", default=None)
    args = p.parse_args(argv)

    sb = Sandbox(seed=args.seed, surveys=args.surveys, responses=args.responses, survey_sizes=args.survey_sizes,
                 page_size=args.page_size, token_lifetime=args.token_lifetime, export_polls=args.export_polls,
                 port=args.port, client_id=args.client_id, client_secret=args.client_secret, api_token=args.api_token)
    serve(sb)


def serve(sb: Sandbox, notes: tuple[str, ...] = ()) -> None:
    """Print the sourceable QUALTRICS_* lines, then serve until SIGINT/SIGTERM."""
    for key, value in (("QUALTRICS_BASE_URL", sb.base_url), ("QUALTRICS_CLIENT_ID", sb.client_id),
                       ("QUALTRICS_CLIENT_SECRET", sb.client_secret), ("QUALTRICS_API_TOKEN", sb.api_token)):
        print(f"{key}={shlex.quote(value)}")
    for note in notes:
        print(f"# {note}")
    print(f"# surveys: {' '.join(sb.survey_ids)}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    sb.close()


if __name__ == "__main__":
    main()
