"""Server-rendered account pages: log in, register, log out, settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.api.serializers import UserOutput
from chat.uploads import IMAGE_FORMATS
from fastsock.core.errors import ApiError
from fastsock.core.ratelimit import client_ip, rate_limit

from . import services
from .forms import AccountPasswordChangeForm, ProfileForm, RegistrationForm
from .models import User

SETTINGS_TEMPLATE = "accounts/settings.html"


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


def _settings_context(
    user: User, profile_form: ProfileForm, password_form: AccountPasswordChangeForm
) -> dict[str, Any]:
    return {
        "profile_form": profile_form,
        "password_form": password_form,
        "avatar_url": UserOutput(user).data["avatar_url"],
        "avatar_types": ",".join(kind for kind in IMAGE_FORMATS if kind in settings.UPLOAD_ALLOWED_TYPES),
        "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
    }


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """Profile, photo and password; each form posts here with its name in ``form``."""
    user = request.user
    profile_form = ProfileForm.for_user(user)
    password_form = AccountPasswordChangeForm(user)
    submitted = request.POST.get("form")
    if submitted == "profile":
        profile_form = ProfileForm(request.POST)
        if profile_form.is_valid():
            services.user_profile_update(user=user, **profile_form.cleaned_data)
            messages.success(request, "Your profile is saved.", extra_tags="profile")
            return redirect("settings")
    elif submitted == "password":
        try:
            rate_limit(request, action="auth.password_change.user", key=lambda _group, _request: str(user.pk))
        except ApiError as error:
            context = _settings_context(user, profile_form, password_form)
            return _too_many_attempts(request, SETTINGS_TEMPLATE, context, error)
        password_form = AccountPasswordChangeForm(user, request.POST)
        if password_form.is_valid():
            services.user_password_change(user=user, password=password_form.cleaned_data["new_password1"])
            # The new password changes the session hash: keep this session, end the others.
            update_session_auth_hash(request, user)
            messages.success(request, "Your password is changed.", extra_tags="password")
            return HttpResponseRedirect(reverse("settings") + "#password")
    return render(request, SETTINGS_TEMPLATE, _settings_context(user, profile_form, password_form))
