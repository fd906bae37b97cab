"""Helpers of the ringedge integration suite (see test/integration/README.md)."""
