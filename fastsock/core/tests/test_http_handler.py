"""Django behind Daphne: the middleware and the view run on the request's own thread."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import iscoroutinefunction
from channels.testing import HttpCommunicator
from django.http import HttpResponse
from django.urls import path

from fastsock.core.http_handler import ThreadedASGIHandler

seen_threads: list[int] = []
HOST = [(b"host", b"127.0.0.1")]


def where_am_i(request):
    seen_threads.append(threading.get_ident())
    return HttpResponse("ok")


urlpatterns = [path("where", where_am_i)]


class RecordThread:
    """Middleware that notes the thread it runs on, before and after the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seen_threads.append(threading.get_ident())
        response = self.get_response(request)
        seen_threads.append(threading.get_ident())
        return response


def test_the_middleware_chain_is_built_synchronous():
    assert not iscoroutinefunction(ThreadedASGIHandler()._middleware_chain)


@pytest.mark.asyncio
async def test_middleware_and_view_share_the_requests_thread_off_the_event_loop(settings):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.RecordThread"]
    seen_threads.clear()
    response = await HttpCommunicator(ThreadedASGIHandler(), "GET", "/where", headers=HOST).get_response(timeout=5)
    assert response["status"] == 200
    assert dict(response["headers"]).get(b"X-Request-ID")  # the project's own middleware ran too
    assert len(seen_threads) == 3  # middleware, view, middleware
    assert len(set(seen_threads)) == 1
    assert seen_threads[0] != threading.get_ident()  # not on the event loop's thread


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_served_application_answers_pages_and_errors_in_the_error_shape():
    from fastsock.asgi import application

    login = await HttpCommunicator(application, "GET", "/login/", headers=HOST).get_response(timeout=5)
    missing = await HttpCommunicator(application, "GET", "/api/v1/nothing-here", headers=HOST).get_response(timeout=5)
    assert login["status"] == 200
    assert any(name.lower() == b"set-cookie" and b"csrftoken" in value for name, value in login["headers"])
    assert missing["status"] == 404
    assert b'"error"' in missing["body"]
