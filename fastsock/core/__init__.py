"""Shared pieces every app uses: errors, logging, health, rate limits, the WebSocket skeleton."""
