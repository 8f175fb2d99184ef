from __future__ import annotations

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from . import services


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
