"""Fixtures and helpers shared by the suites that run a real Celery worker: tests/e2e and tests/browser."""
