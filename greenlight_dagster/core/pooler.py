"""Connection poolers the ledger cannot work behind, recognised from the warehouse URL (decision 0015).

The ledger's claims are session-level advisory locks held on one connection for as long as a
write is in flight. A transaction-mode pooler hands each transaction to whichever server
connection is free, so such a lock lands on a session other clients then use (and re-enter),
and is released or kept at random: it protects nothing. The hosted poolers below are
transaction-mode on these ports; a self-hosted PgBouncer cannot be told from its URL, which is
why `warehouse.ledger_store` also checks the session itself.
"""

from __future__ import annotations


def transaction_pooler(host: str | None, port: int | None) -> str | None:
    """What the URL's host and port say the connection goes through, when it is a known transaction pooler."""
    name = (host or "").lower()
    if name.endswith(".pooler.supabase.com") and (port or 5432) == 6543:
        return ("Supabase's transaction pooler (port 6543); use its session pooler (port 5432) or the direct "
                "connection db.<project>.supabase.co:5432")
    if ".proxy-" in name and name.endswith(".rds.amazonaws.com"):
        return "an RDS Proxy endpoint; use the database instance's own endpoint"
    return None
