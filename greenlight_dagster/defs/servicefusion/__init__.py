"""ServiceFusion ingestion: the raw ``sf/*`` assets (``assets.py``) and the client resource (``resources.py``)."""
