"""`make sync`: sync your Qualtrics account if one is configured, else the bundled sandbox.

With no QUALTRICS_BASE_URL (in the environment or ./.env), a seeded sandbox account is served on
loopback for the duration of the sync and lands in its own warehouse and Dagster home, so demo
surveys never mix with a real account's.
"""

import os
import sys

from dotenv import load_dotenv

SANDBOX_WAREHOUSE = "sandbox_warehouse.duckdb"
SANDBOX_DAGSTER_HOME = ".dagster_home_sandbox"


def _sync() -> int:
    from qualtrics_assets.definitions import defs
    from qualtrics_assets.sync import run_sync

    return run_sync(defs)


def main() -> int:
    load_dotenv()
    if os.environ.get("QUALTRICS_BASE_URL"):
        return _sync()
    from qualtrics_assets_tests.sandbox import Sandbox

    with Sandbox(seed=7, surveys=5, responses=500) as sb:
        print(f"No Qualtrics account configured: syncing the bundled sandbox at {sb.base_url}\n")
        os.environ.update(
            QUALTRICS_BASE_URL=sb.base_url, QUALTRICS_CLIENT_ID=sb.client_id, QUALTRICS_CLIENT_SECRET=sb.client_secret
        )
        os.environ["QUALTRICS_WAREHOUSE"] = SANDBOX_WAREHOUSE
        os.environ["DAGSTER_HOME"] = os.path.abspath(SANDBOX_DAGSTER_HOME)
        return _sync()


if __name__ == "__main__":
    sys.exit(main())
