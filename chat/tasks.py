"""Celery tasks of the chat app: fetch by id, call a service."""
