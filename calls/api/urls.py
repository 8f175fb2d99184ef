from django.urls import path

from . import views

urlpatterns = [
    path("calls", views.CallHistoryApi.as_view(), name="api-calls"),
    path("calls/ice-servers", views.IceServersApi.as_view(), name="api-calls-ice-servers"),
]
