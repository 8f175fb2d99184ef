"""The real URLs plus views that fail on purpose, for the error-path tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from fastsock.urls import urlpatterns as real_urlpatterns


@api_view(["GET"])
@permission_classes([AllowAny])
def api_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("this API view always fails, password=hunter2-in-exception")


def page_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("this page always fails")


urlpatterns = [
    path("api/v1/test/boom", api_boom),
    path("test/boom", page_boom),
    *real_urlpatterns,
]

handler400 = "fastsock.core.views.bad_request"
handler403 = "fastsock.core.views.permission_denied"
handler404 = "fastsock.core.views.page_not_found"
handler500 = "fastsock.core.views.server_error"
