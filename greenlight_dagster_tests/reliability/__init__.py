"""Reliability scenarios: hostile input, chaos sync, crash recovery, outages (issue 7)."""
