from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.validators import UnicodeUsernameValidator

from . import services
from .models import User


class RegistrationForm(forms.Form):
    username = forms.CharField(
        min_length=3,
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    display_name = forms.CharField(
        required=False,
        max_length=64,
        help_text="How people see you in chats.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_confirm = forms.CharField(
        label="Repeat password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ.")
        if cleaned.get("username") and cleaned.get("password"):
            # The service's own checks, so that every problem shows at once, next to its field.
            problems = services.user_registration_problems(
                username=cleaned["username"],
                password=cleaned["password"],
                email=cleaned.get("email", ""),
                display_name=cleaned.get("display_name", ""),
            )
            for field, messages in problems.items():
                for message in messages:
                    self.add_error(field, message)
        return cleaned


class ProfileForm(forms.Form):
    """The profile fields a person edits on the settings page, with the API's limits."""

    display_name = forms.CharField(
        required=False,
        max_length=User._meta.get_field("display_name").max_length,
        help_text="How people see you in chats; your username when empty.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    status_message = forms.CharField(
        required=False,
        max_length=User._meta.get_field("status_message").max_length,
        help_text="A short line next to your name, like “On holiday until Monday”.",
    )

    @classmethod
    def for_user(cls, user: User) -> ProfileForm:
        return cls(initial={"display_name": user.display_name, "status_message": user.status_message})


def _new_password_help() -> str:
    lengths = [
        validator.min_length
        for validator in password_validation.get_default_password_validators()
        if isinstance(validator, password_validation.MinimumLengthValidator)
    ]
    rules = "not a common password, not only digits, not like your name."
    return f"At least {max(lengths)} characters; {rules}" if lengths else rules.capitalize()


class AccountPasswordChangeForm(PasswordChangeForm):
    """Django's password change (current password, new one twice), worded for the settings page."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        # The password section is below the profile: focusing it would scroll the page past it.
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
        self.fields["new_password1"].help_text = _new_password_help()
        self.fields["new_password2"].label = "Repeat new password"
        self.fields["new_password2"].help_text = ""

    def validate_password_for_user(self, user: User, *_args: Any, **_kwargs: Any) -> None:
        # Django puts the validators' complaints under the repetition; they belong to the new password.
        super().validate_password_for_user(user, "new_password1")
