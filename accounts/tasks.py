"""Celery tasks of the accounts app: fetch by id, call a service."""
