"""The single ``/ws/`` endpoint: authentication, the frame protocol and the event router."""
