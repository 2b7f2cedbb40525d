"""The Dagster instance the project runs on: its home directory and its storage (dagster.yaml)."""
