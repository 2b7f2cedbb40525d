"""Reconciliation: the push plan and its checks (``assets.py``), the sync report (``report.py``) and the
``sync_flags`` resource the push assets share (``resources.py``)."""
