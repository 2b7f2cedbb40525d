"""Peer pipelines the benchmarks compare against (bench_peer.py)."""
