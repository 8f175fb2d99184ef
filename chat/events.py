"""The chat app's realtime event names and payload schemas (the protocol, in code)."""
