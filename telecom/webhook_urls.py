from django.urls import path

from . import views

urlpatterns = [
    path("sms/<slug:connector>/dlr", views.sms_dlr, name="webhook-sms-dlr"),
]
