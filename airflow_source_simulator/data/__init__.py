"""Deterministic data generation: every value is a pure function of (scale, day, table, key)."""
