import pytest


@pytest.fixture(autouse=True)
def tasks_run_inline(settings):
    """Telecom's tasks run in the test's own process, also where a broker is configured (the
    end-to-end tests in tests/ drive a real worker), so that no task is left queued for some
    later worker to pick up against another database."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
