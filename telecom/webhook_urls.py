from django.urls import path

from . import views

urlpatterns = [
    path("sms/<slug:connector>/dlr", views.sms_dlr, name="webhook-sms-dlr"),
    path("sms/<slug:connector>/inbound", views.sms_inbound, name="webhook-sms-inbound"),
]
