"""The calls REST API: one view per operation, rules in the calls app's modules."""
