"""Executing the ledger: claim -> (look up) -> (verify) -> send -> record, for SF and PW.

No Dagster here: the push assets in ``defs/push`` are thin wrappers around `execute`, and the
same loop runs from tests, benchmarks and the CLI.
"""
