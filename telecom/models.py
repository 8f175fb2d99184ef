"""Projects, connectors, messages and calls arrive with the telecom issues; the app is wired in now."""
