from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.LoginPage.as_view(), name="login"),
    path("register/", views.register_page, name="register"),
    path("logout/", views.logout_page, name="logout"),
    path("settings/", views.settings_page, name="settings"),
]
