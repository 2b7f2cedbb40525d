"""Warehouse: the dbt project (staging -> snapshots -> marts) as assets whose dbt tests are asset checks
(``assets.py``), the dbt CLI resource (``resources.py``) and how the manifest is prepared (``project.py``).
The assets also need the shared ``warehouse`` resource."""
