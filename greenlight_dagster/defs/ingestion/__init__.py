"""Ingestion: the steps that land both sources' raw assets, PropertyWare and ServiceFusion side by side."""
