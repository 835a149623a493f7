"""Starts the BigQuery emulator (PyPI `bqemulator`) for strata's tests.

bqemulator runs DuckDB's `INSTALL spatial` when it starts, which needs the
internet. Only GEOGRAPHY functions depend on it, so this launcher makes that
step optional, then hands the command line to bqemulator's own CLI:

    python launch.py start --ephemeral --rest-port 9050 --grpc-port 0 --project p
"""

import sys

from bqemulator.storage import engine

_load_spatial = engine.DuckDBEngine._load_spatial


def _optional_spatial(self, *args, **kwargs):
    try:
        return _load_spatial(self, *args, **kwargs)
    except Exception as err:  # noqa: BLE001 - any failure only disables GEOGRAPHY
        print(f"bqemulator: spatial extension unavailable, GEOGRAPHY disabled ({err})", file=sys.stderr)
        return None


engine.DuckDBEngine._load_spatial = _optional_spatial

from bqemulator.cli import main  # noqa: E402

sys.argv = ["bqemulator", *sys.argv[1:]]
sys.exit(main())
