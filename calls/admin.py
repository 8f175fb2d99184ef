"""Back office for the calls app."""
