"""Push: the assets that send the plan's writes to ServiceFusion and PropertyWare (``assets.py``) and
the dead-letter replay's steps (``replay.py``); their resources come from ``defs/reconcile``."""
