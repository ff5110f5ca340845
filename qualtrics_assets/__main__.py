"""`python -m qualtrics_assets sync [--survey SV_…]`: sync Qualtrics into the warehouse, no UI needed."""

import argparse
import sys

from dotenv import load_dotenv

from qualtrics_assets.qualtrics import validate_survey_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qualtrics_assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="sync the account tables and every survey (or only --survey ones)")
    sync.add_argument("--survey", action="append", metavar="SV_ID", help="sync only this survey (repeatable)")
    args = parser.parse_args(argv)
    for survey_id in args.survey or []:
        try:
            validate_survey_id(survey_id)
        except ValueError as error:
            parser.error(str(error))
    load_dotenv()  # like the dagster CLIs, read QUALTRICS_* from ./.env


    from qualtrics_assets.definitions import defs
    from qualtrics_assets.sync import run_sync

    return run_sync(defs, args.survey)


if __name__ == "__main__":
    sys.exit(main())
