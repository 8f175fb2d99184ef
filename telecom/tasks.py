"""Celery tasks of the telecom app: fetch by id, call a service."""
