"""What tests of long-running commands share: a free port, and the processes a command left behind."""

from __future__ import annotations

import socket

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_mentioning(*markers: str) -> list[psutil.Process]:
    """Live processes whose command line has an argument containing any of ``markers`` (ports, data dirs)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or [] for marker in markers) and proc.is_running() \
                    and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
