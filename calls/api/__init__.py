"""The calls REST API: one view per operation (arrives with the calls issue)."""
