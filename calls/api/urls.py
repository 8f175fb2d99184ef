from django.urls import include, path

from . import views

urlpatterns = [
    path("calls", views.CallHistoryApi.as_view(), name="api-calls"),
    path("calls/group/", include("calls.api.group")),
    path("calls/ice-servers", views.IceServersApi.as_view(), name="api-calls-ice-servers"),
]
