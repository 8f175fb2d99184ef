"""Reads of the calls app, permission-checked."""
