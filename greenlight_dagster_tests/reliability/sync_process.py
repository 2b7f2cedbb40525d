"""``python -m greenlight_dagster_tests.reliability.sync_process``: one sync cycle as its own process.

Why a separate process: the crash scenarios SIGKILL the run, and only a process can be killed
the way a node, a container or the OOM killer kills a Dagster run worker - no ``finally``, no
rollback hook, connections cut mid-statement. The configuration comes from the environment,
as in production. Exit status 0 when the run succeeded. ``--persistent`` runs on the
instance of ``DAGSTER_HOME`` (the one a webserver shows) instead of an ephemeral one.
"""

from __future__ import annotations

import sys

from greenlight_dagster_tests.reliability.harness import execute_sync

if __name__ == "__main__":
    sys.exit(0 if execute_sync(persistent="--persistent" in sys.argv[1:]).success else 1)
