"""Back office for telecom: projects and keys, connectors and their health, numbers, inbound
routes, messages with their reports and dead letters, and usage.

Nothing secret is shown or kept here. A new API key is shown once, in the answer to the form
that made it; a project's signing secret is for its owners, through the API; connectors hold
the names of environment variables, never their values. Messages, reports and usage are a
record, so they are read-only; they change through telecom.services (revoking keys, replaying
dead letters), as they would through the API.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from fastsock.core.errors import ApiError

from .. import services, webhooks
from ..health import connectors_check_health
from ..models import (
    ApiKey,
    Connector,
    DeadLetter,
    IdempotencyRecord,
    InboundRoute,
    PhoneNumber,
    Project,
    ProjectMember,
    ProviderEvent,
    SmsMessage,
    UsageDaily,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RecordAdmin(admin.ModelAdmin):
    """A record kept by the system: staff look, nobody adds, edits or deletes."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def may_change(self, request: HttpRequest) -> bool:
        """Whether the user holds the model's change permission: actions on records ask this."""
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")


class DateSetFilter(admin.SimpleListFilter):
    """Yes/no on whether a date field is set; subclasses name the field and the words."""

    field = ""
    labels = ("yes", "no")

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", self.labels[0]), ("no", self.labels[1])]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(**{f"{self.field}__isnull": self.value() == "no"})
        return queryset


# --- Projects and keys ------------------------------------------------------------------------------


class ProjectMemberInline(admin.TabularInline):
    model = ProjectMember
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "joined_at"]
    readonly_fields = ["joined_at"]


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = ["name", "prefix", "scope_list", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    verbose_name_plural = "API keys (revoke them from the API keys list)"

    @admin.display(description="scopes")
    def scope_list(self, api_key: ApiKey) -> str:
        return ", ".join(api_key.scopes)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, like “shop backend”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, initial=ApiKey.Scope.values, widget=forms.CheckboxSelectMultiple
    )


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "member_count", "active_key_count", "created_at"]
    search_fields = ["name", "memberships__user__username"]
    # The signing secret is derived from the generation, never shown here: owners read it from
    # the API. Bumping the generation would rotate it under every owner's feet, so it is read-only.
    fields = ["name", "created_at", "signing_generation", "api_key_tools"]
    readonly_fields = ["created_at", "signing_generation", "api_key_tools"]
    inlines = [ProjectMemberInline, ApiKeyInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_total=Count("memberships", distinct=True),
                active_keys=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True), distinct=True),
            )
        )

    @admin.display(ordering="member_total", description="members")
    def member_count(self, project: Project) -> int:
        return project.member_total  # type: ignore[attr-defined]

    @admin.display(ordering="active_keys", description="active keys")
    def active_key_count(self, project: Project) -> int:
        return project.active_keys  # type: ignore[attr-defined]

    @admin.display(description="API keys")
    def api_key_tools(self, project: Project) -> str:
        if project.pk is None:
            return "Save the project first."
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_api_key_create", args=[project.pk])
        return format_html('<a class="button" href="{}">Create API key</a>', url)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_api_key_create"
        view = self.admin_site.admin_view(self.api_key_create_view)  # never cached, staff only
        # Before the default URLs: their "<object_id>/" catch-all would take this path otherwise.
        return [path("<path:object_id>/api-keys/new/", view, name=name), *super().get_urls()]

    def api_key_create_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Make a key for the project and show it in this answer, once.

        The key is rendered here rather than carried through a redirect: Django's messages would
        keep it in a cookie or in the session table, and the point is that it is kept nowhere.
        """
        project = self.get_object(request, unquote(object_id))
        if project is None:
            raise Http404("No such project.")
        if not self.has_change_permission(request, project):
            raise PermissionDenied
        form = ApiKeyCreateForm(request.POST if request.method == "POST" else None)
        key = None
        if form.is_valid():
            try:
                api_key, key = services.api_key_create(
                    project=project, actor=request.user, name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                )  # fmt: skip
            except ApiError as error:
                for field, problems in error.details.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                self.log_addition(request, api_key, [{"added": {}}])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "New API key",
            "project": project,
            "form": form,
            "key": key,
        }
        return TemplateResponse(request, "admin/telecom/project/api_key_create.html", context)


class RevokedFilter(DateSetFilter):
    title = "revoked"
    parameter_name = "revoked"
    field = "revoked_at"
    labels = ("Revoked", "Active")


@admin.register(ApiKey)
class ApiKeyAdmin(RecordAdmin):
    list_display = ["name", "project", "prefix", "scope_list", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = [RevokedFilter, "created_at"]
    search_fields = ["name", "prefix", "project__name"]
    list_select_related = ["project", "created_by"]
    exclude = ["key_hash"]
    actions = ["revoke_keys"]
    # New keys are made on their project's page (the key is shown there, once); keys are revoked,
    # never deleted, so the record of who had access stays.

    @admin.display(description="scopes")
    def scope_list(self, api_key: ApiKey) -> str:
        return ", ".join(api_key.scopes)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.may_change(request)

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        active = list(queryset.filter(revoked_at__isnull=True).select_related("project"))
        for api_key in active:
            services.api_key_revoke(project=api_key.project, key_id=api_key.pk)
            self.log_change(request, api_key, "Revoked.")
        self.message_user(request, f"Revoked {len(active)} API key(s).", messages.SUCCESS)


# --- Connectors, numbers and routes -------------------------------------------------------------------

ENV_NAME = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*$", "The name of an environment variable (letters, digits, _), not its value."
)
ENV_HELP = "Name of the environment variable holding the {what}, like {example}. Only the name is stored; the value is read from the environment when it is needed and is never saved."  # noqa: E501


def gateway_formfield(field: models.Field, **kwargs: Any) -> forms.Field | None:
    # Self-hosted gateways mostly listen on plain HTTP inside the network.
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "http")
    return field.formfield(**kwargs)


class ConnectorForm(forms.ModelForm):
    allowed_networks = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Networks webhooks may come from, one per line: 10.0.0.0/8, 127.0.0.1, 2001:db8::/32. "
        "Empty: no webhook is accepted.",
    )

    class Meta:
        model = Connector
        formfield_callback = gateway_formfield
        fields = [
            "name", "kind", "base_url", "username_env", "password_env", "webhook_secret_env", "allowed_networks",
            "priority", "throughput_per_second", "max_segments", "enabled", "circuit_override",
        ]  # fmt: skip
        help_texts = {
            "username_env": ENV_HELP.format(what="gateway username", example="JASMIN_USER"),
            "password_env": ENV_HELP.format(what="gateway password", example="JASMIN_PASSWORD"),
            "webhook_secret_env": ENV_HELP.format(
                what="secret that signs webhook URLs (16 characters or more)", example="JASMIN_WEBHOOK_SECRET"
            ),
            "circuit_override": "Voice trunks: force the circuit breaker open (take the trunk out of service) "
            "or closed (always try it, whatever its failures); automatic lets failures decide.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["allowed_networks"] = "\n".join(self.instance.allowed_networks or [])
        for name in ("username_env", "password_env", "webhook_secret_env"):
            self.fields[name].validators.append(ENV_NAME)

    def clean_allowed_networks(self) -> list[str]:
        networks = self.cleaned_data["allowed_networks"].replace(",", " ").split()
        bad = []
        for network in networks:
            try:
                # As the webhook check reads them: host bits may be set (10.1.2.3/8 is 10.0.0.0/8).
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                bad.append(network)
        if bad:
            raise ValidationError(f"Not a network (like 10.0.0.0/8 or 127.0.0.1): {', '.join(bad)}.")
        return networks


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    # The admin builds the form again with its own field callback: the same plain-HTTP default.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}
    list_display = [
        "name", "kind", "base_url", "priority", "enabled", "healthy", "circuit", "health_checked_at", "last_error",
    ]  # fmt: skip
    list_filter = ["kind", "enabled", "healthy", "circuit_override"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["healthy", "health_checked_at", "last_error", "circuit", "created_at", "webhook_urls"]
    actions = ["check_health", "enable", "disable", "reset_circuit"]

    @admin.display(description="circuit breaker")
    def circuit(self, connector: Connector) -> str:
        if connector.kind != Connector.Kind.ASTERISK or connector.pk is None:
            return "-"
        from ..breaker import breaker_state

        state = breaker_state(connector)
        if connector.circuit_override != Connector.CircuitOverride.AUTO:
            return f"{state} (forced)"
        return state

    @admin.action(description="Reset the circuit breaker (voice trunks)", permissions=["change"])
    def reset_circuit(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        from ..breaker import breaker_reset

        trunks = list(queryset.filter(kind=Connector.Kind.ASTERISK))
        for connector in trunks:
            breaker_reset(connector)
            self.log_change(request, connector, "Reset the circuit breaker.")
        self.message_user(request, f"Reset the circuit breaker of {len(trunks)} trunk(s).", messages.SUCCESS)

    @admin.display(description="webhook URLs for the gateway")
    def webhook_urls(self, connector: Connector) -> str:
        if connector.pk is None:
            return "Save the connector first."
        try:
            inbound, events = webhooks.fixed_url(connector, "inbound"), webhooks.fixed_url(connector, "events")
        except webhooks.WebhookRefused:
            return f"Set {connector.webhook_secret_env} (16 characters or more) in this server's environment."
        return format_html("inbound SMS: <code>{}</code><br>call events: <code>{}</code>", inbound, events)

    @admin.action(description="Check health now", permissions=["change"])
    def check_health(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        results = connectors_check_health(queryset)
        if not results:
            self.message_user(request, "No SMS connector selected (voice connectors have no check).", messages.WARNING)
            return
        down = [name for name, healthy in results if not healthy]
        level = messages.WARNING if down else messages.SUCCESS
        summary = f"{len(results) - len(down)} of {len(results)} healthy."
        self.message_user(request, summary + (f" Not answering: {', '.join(down)}." if down else ""), level)

    @admin.action(description="Enable selected connectors", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} connector(s).", messages.SUCCESS)

    @admin.action(description="Disable selected connectors", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        self.message_user(request, f"Disabled {queryset.update(enabled=False)} connector(s).", messages.SUCCESS)


class PhoneNumberForm(forms.ModelForm):
    class Meta:
        model = PhoneNumber
        fields = ["e164", "project", "connectors", "sms", "mms", "voice", "voice_flow"]
        help_texts = {"voice_flow": "The flow inbound calls to this number run (its active version)."}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        flow, project = data.get("voice_flow"), data.get("project")
        if flow is not None and project is not None and flow.project_id != project.pk:
            self.add_error("voice_flow", "A flow of the number's own project.")
        return data

    def clean_e164(self) -> str:
        value = self.cleaned_data["e164"].strip()
        if not services.E164.match(value):
            raise ValidationError("A phone number in E.164 form, like +14155550123.")
        return value


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    form = PhoneNumberForm
    list_display = ["e164", "project", "sms", "mms", "voice", "gateways", "created_at"]
    list_filter = ["sms", "mms", "voice", "connectors"]
    search_fields = ["e164", "project__name"]
    autocomplete_fields = ["project", "voice_flow"]
    filter_horizontal = ["connectors"]
    list_select_related = ["project"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PhoneNumber]:
        return super().get_queryset(request).prefetch_related("connectors")

    @admin.display(description="connectors")
    def gateways(self, number: PhoneNumber) -> str:
        return ", ".join(connector.name for connector in number.connectors.all())


class InboundRouteForm(forms.ModelForm):
    class Meta:
        model = InboundRoute
        fields = ["project", "match", "pattern", "target_user", "target_room", "priority"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("target_user")) == bool(data.get("target_room")):
            raise ValidationError("Route to exactly one target: a person or a room.")
        return data


@admin.register(InboundRoute)
class InboundRouteAdmin(admin.ModelAdmin):
    form = InboundRouteForm
    list_display = ["priority", "project", "match", "pattern", "target_user", "target_room"]
    list_display_links = ["match", "pattern"]
    list_filter = ["match"]
    search_fields = ["pattern", "project__name", "target_user__username", "target_room__name"]
    ordering = ["priority", "id"]
    autocomplete_fields = ["project", "target_user", "target_room"]
    list_select_related = ["project", "target_user", "target_room"]


# --- Messages, reports, dead letters ------------------------------------------------------------------


class ProviderEventInline(ReadOnlyInline):
    model = ProviderEvent
    fields = ["received_at", "connector", "kind", "status", "provider_event_id", "raw"]
    readonly_fields = fields
    verbose_name_plural = "gateway reports"


class DeadLetterInline(ReadOnlyInline):
    model = DeadLetter
    fields = ["created_at", "reason", "replayed_at"]
    readonly_fields = fields


@admin.register(SmsMessage)
class SmsMessageAdmin(RecordAdmin):
    # No deletes either: usage is counted from the messages themselves.
    list_display = [
        "sid", "project", "direction", "from_number", "to_number", "status", "segments", "connector", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "direction", "connector", "created_at"]
    search_fields = ["sid", "to_number", "from_number", "provider_message_id"]
    list_select_related = ["project", "connector"]
    date_hierarchy = "created_at"
    inlines = [ProviderEventInline, DeadLetterInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # read-only; silences Django 6's notice
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is not worth it


class ReplayedFilter(DateSetFilter):
    title = "replayed"
    parameter_name = "replayed"
    field = "replayed_at"
    labels = ("Replayed", "Waiting")


@admin.register(DeadLetter)
class DeadLetterAdmin(RecordAdmin):
    list_display = ["id", "message", "project", "message_status", "reason", "created_at", "replayed_at"]
    list_filter = [ReplayedFilter, "created_at"]
    search_fields = ["message__sid", "message__to_number", "reason"]
    list_select_related = ["message__project"]
    actions = ["replay"]

    @admin.display(description="project")
    def project(self, dead_letter: DeadLetter) -> Project:
        return dead_letter.message.project

    @admin.display(description="message status", ordering="message__status")
    def message_status(self, dead_letter: DeadLetter) -> str:
        return dead_letter.message.status

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return self.may_change(request)

    @admin.action(description="Replay selected (send the messages again)", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        replayed = skipped = 0
        for dead_letter_id in queryset.values_list("pk", flat=True):
            with transaction.atomic():
                # Locked, so two operators replaying at once send once. Only a message that is
                # still failed goes out again: an older dead letter of a message that was
                # replayed and sent since must not send it twice.
                dead_letter = (
                    DeadLetter.objects.select_for_update()
                    .select_related("message")
                    .filter(pk=dead_letter_id, replayed_at__isnull=True)
                    .first()
                )
                if dead_letter is None or dead_letter.message.status != SmsMessage.Status.FAILED:
                    skipped += 1
                    continue
                services.sms_replay_dead_letter(dead_letter=dead_letter)
                self.log_change(request, dead_letter, "Replayed.")
            replayed += 1
        text = f"Replayed {replayed} message(s)."
        if skipped:
            text += f" Skipped {skipped} already replayed or no longer failed."
        self.message_user(request, text, messages.SUCCESS if replayed else messages.WARNING)


@admin.register(ProviderEvent)
class ProviderEventAdmin(RecordAdmin):
    list_display = ["received_at", "connector", "kind", "status", "provider_event_id", "message"]
    list_filter = ["connector", "kind", "status", "received_at"]
    search_fields = ["provider_event_id", "message__sid"]
    list_select_related = ["connector", "message"]
    date_hierarchy = "received_at"
    show_full_result_count = False


@admin.register(UsageDaily)
class UsageDailyAdmin(RecordAdmin):
    list_display = ["day", "project", "sms_segments_out", "sms_segments_in", "mms_out", "mms_in", "call_seconds"]
    search_fields = ["project__name"]
    list_select_related = ["project"]
    date_hierarchy = "day"
    ordering = ["-day", "project"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Shown for support ("why did my retry get the first answer, or a 409?"). Deleting one is
    the way out for a key stuck "still being processed" by a process that died mid-request."""

    list_display = ["created_at", "project", "method", "path", "key", "status_code"]
    list_filter = ["method", "status_code"]
    search_fields = ["key", "project__name"]
    list_select_related = ["project"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
