"""Handlers for this app's client WebSocket events, registered with the core router in AppConfig.ready()."""
