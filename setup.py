"""Delegates to pyproject.toml, the single source of metadata and dependencies."""

from setuptools import setup

setup()
