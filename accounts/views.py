"""Server-rendered account pages: log in, register, log out."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from fastsock.core.errors import ApiError
from fastsock.core.ratelimit import client_ip, rate_limit

from . import services
from .forms import RegistrationForm
from .models import User


def _too_many_attempts(request: HttpRequest, template: str, context: dict[str, Any], error: ApiError) -> HttpResponse:
    context["rate_limited"] = f"Too many attempts. Try again in {error.retry_after} seconds."
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response


class LoginPage(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # On a developer's machine (`make run`), say how to get in.
        context["demo_hint"] = settings.DEBUG and User.objects.filter(username="alice").exists()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "").strip().lower()
        try:
            rate_limit(request, action="auth.login.ip", key=client_ip)
            if username:
                rate_limit(request, action="auth.login.username", key=lambda _group, _request: username)
        except ApiError as error:
            form = self.form_class(request, initial={"username": request.POST.get("username", "")})
            return _too_many_attempts(request, self.template_name, self.get_context_data(form=form), error)
        return super().post(request, *args, **kwargs)


@require_http_methods(["GET", "POST"])
def register_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST":
        try:
            rate_limit(request, action="auth.register.ip", key=client_ip)
        except ApiError as error:
            return _too_many_attempts(request, "accounts/register.html", {"form": form}, error)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.user_register(
                    username=data["username"],
                    password=data["password"],
                    email=data["email"],
                    display_name=data["display_name"],
                )
            except ApiError as error:
                for field, messages in error.details.items():
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return HttpResponseRedirect(reverse("chat-home"))
    return render(request, "accounts/register.html", {"form": form})


@require_http_methods(["GET", "POST"])
def logout_page(request: HttpRequest) -> HttpResponse:
    """GET asks to confirm (a link must not log anyone out); POST logs out."""
    if request.method == "POST":
        logout(request)
        return redirect("login")
    if not request.user.is_authenticated:
        return redirect("login")
    return render(request, "accounts/logout.html")
