"""Reads of the telecom app, permission-checked."""
