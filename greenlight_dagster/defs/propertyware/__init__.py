"""PropertyWare ingestion: the raw ``pw/*`` assets (``assets.py``) and the client resource (``resources.py``)."""
