from django.urls import path

from . import views

urlpatterns = [
    path("sms/<slug:connector>/dlr", views.sms_dlr, name="webhook-sms-dlr"),
    path("sms/<slug:connector>/inbound", views.sms_inbound, name="webhook-sms-inbound"),
    path("calls/<slug:connector>/events", views.call_events, name="webhook-call-events"),
]
