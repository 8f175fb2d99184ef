"""The calls app's realtime event names and payload schemas."""
