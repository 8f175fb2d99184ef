from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from fastsock.celery import app
from fastsock.core.tasks import ping
from fastsock.core.testing import stop_process

BASE_DIR = Path(__file__).resolve().parents[3]


def test_the_celery_app_discovers_every_apps_tasks():
    app.loader.import_default_modules()
    assert "core.ping" in app.tasks


@pytest.mark.skipif("settings.REDIS_URL", reason="eager mode is the embedded default only")
def test_tasks_run_in_process_on_the_embedded_default():
    assert settings.CELERY_TASK_ALWAYS_EAGER
    assert ping.delay().get(timeout=5) == "pong"


def test_threads_share_one_result_backend():
    # Under Daphne every request runs on a new thread: a backend per thread was a new Redis client
    # (and its connections) for each request that sent a task.
    backends = []
    threads = [threading.Thread(target=lambda: backends.append(app.backend)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(backend) for backend in backends}) == 1


@pytest.fixture
def celery_worker_process(tmp_path):
    """A real ``celery -A fastsock worker`` against the configured Redis, stopped after the test."""
    log_file = tmp_path / "worker.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fastsock.settings.test", "LOG_LEVEL": "INFO"}
    with log_file.open("w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "fastsock",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                f"--hostname=test-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield worker
    finally:
        stop_process(worker, grace_seconds=20)


@pytest.mark.redis
def test_a_real_worker_runs_tasks_sent_through_redis(celery_worker_process, settings):
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    result = ping.apply_async()
    deadline = time.monotonic() + 60
    while not result.ready():
        assert celery_worker_process.poll() is None, "the worker died"
        assert time.monotonic() < deadline, "the worker never ran the task"
        time.sleep(0.05)
    assert result.get(timeout=1) == "pong"


@pytest.mark.django_db
def test_the_purge_task_is_scheduled_and_runs():
    assert any(entry["task"] == "core.stream_purge" for entry in settings.CELERY_BEAT_SCHEDULE.values())
    from fastsock.core.tasks import stream_purge

    assert stream_purge.apply().get() == 0
