"""The telecom REST API: one view per operation (arrives with the telecom issue)."""
