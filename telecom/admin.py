"""Back office for the telecom app."""
