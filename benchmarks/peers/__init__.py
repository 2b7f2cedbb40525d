"""Peer pipelines the benchmarks compare against (peer.py)."""
