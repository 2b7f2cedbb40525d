"""Security tests: secrets never leak, a secret scan, least-privilege roles, dependency audit, SSM (issue 7)."""
