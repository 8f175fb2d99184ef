from django.urls import path

from . import views

urlpatterns = [
    path("", views.chat_home, name="chat-home"),
    path("r/<int:room_id>/", views.chat_home, name="chat-room"),
]
