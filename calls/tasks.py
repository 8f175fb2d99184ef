"""Celery tasks of the calls app: fetch by id, call a service."""
