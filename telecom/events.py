"""The telecom app's realtime event names and payload schemas."""
