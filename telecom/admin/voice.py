"""Back office for voice: call flows (a JSON editor, the active version as a diagram, version
history with activation and rollback) and calls (read-only, with their timeline and recordings).

Flows change only through telecom.flow_services, as over the API: saving a changed definition
adds a version, which becomes active only when asked; activating an older version rolls back.
Calls are a record kept by the orchestrator.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Max, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from fastsock.core.errors import ApiError

from .. import flow_services, flows
from ..models import CallEvent, CallFlow, CallFlowVersion, CallRecording, VoiceCall
from .sms import ReadOnlyInline, RecordAdmin

# --- the step diagram ---------------------------------------------------------------------------

BRANCH_LABELS = {
    "default": "any other digits",
    "no_input": "no input",
    "on_busy": "busy",
    "on_no_answer": "no answer",
    "on_failed": "failed",
}


def _clip(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def step_summary(verb: str, args: dict[str, Any]) -> str:
    """One line saying what a step does, with its key fields."""
    options = {**flows.DEFAULTS.get(verb, {}), **args}
    if verb == "say":
        return f"“{_clip(options['text'])}” ({options['language']})"
    if verb == "play":
        return _clip(options["url"], 100)
    if verb == "pause":
        return f"{options['seconds']} s"
    if verb == "hangup":
        return "end the call"
    if verb == "record":
        return f"up to {options['max_seconds']} s" + (", beep first" if options["beep"] else "")
    if verb == "gather":
        finish = options["finish_on_key"]
        text = f"{options['num_digits']} digit(s), {options['timeout']} s timeout"
        text += f", ends with {finish}" if finish else ", no finish key"
        if "prompt" in options:
            prompt_verb, prompt_args = next(iter(options["prompt"].items()))
            text += f"; prompt: {prompt_verb} {step_summary(prompt_verb, prompt_args)}"
        return text
    if verb == "dial":
        text = f"{', '.join(options['to'])}, {options['timeout']} s"
        if options.get("caller_id"):
            text += f", caller id {options['caller_id']}"
        return text + (", recorded" if options["record"] else "")
    return ""


def _branches(verb: str, args: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    found = []
    if verb == "gather":
        found += [(f"pressed {key}", steps) for key, steps in args.get("branches", {}).items()]
    for name in flows.BRANCH_LISTS.get(verb, ()):
        if name in args:
            found.append((BRANCH_LABELS[name], args[name]))
    return found


def flow_diagram(steps: list[dict[str, Any]]) -> SafeString:
    """The steps as nested boxes, in order; a gather's or dial's branches as labelled sub-lists
    (each goes on with the step after its owner unless it hangs up)."""
    items = []
    for step in steps:
        verb, args = next(iter(step.items()))
        branches = _branches(verb, args)
        branch_html = (
            format_html(
                '<ul class="flow-branches">{}</ul>',
                format_html_join(
                    "",
                    '<li><span class="flow-branch-label">{}</span>{}</li>',
                    ((label, flow_diagram(branch)) for label, branch in branches),
                ),
            )
            if branches
            else ""
        )
        items.append(
            format_html(
                '<li class="flow-step flow-{}"><div class="flow-box"><span class="flow-verb">{}</span> '
                '<span class="flow-detail">{}</span></div>{}</li>',
                verb,
                verb,
                step_summary(verb, args),
                branch_html,
            )
        )
    return format_html('<ol class="flow-steps">{}</ol>', format_html_join("", "{}", ((item,) for item in items)))


def pretty(definition: Any) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False)


# --- call flows -------------------------------------------------------------------------------


class FlowDefinitionField(forms.CharField):
    """JSON text in a monospace editor; cleans to the definition, checked like the API checks it."""

    widget = forms.Textarea(attrs={"class": "flow-json", "rows": 24, "cols": 100, "spellcheck": "false"})

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}).") from None
        problems = flows.validate(definition)
        if problems:
            raise ValidationError([f"{problem.path}: {problem.reason}" for problem in problems])
        return definition


class CallFlowForm(forms.ModelForm):
    definition = FlowDefinitionField(
        help_text='{"steps": [STEP, …]}, each STEP one verb: say, play, pause, hangup, record, gather, dial '
        "(docs/telecom.md). Checked when you save; a changed definition is saved as a new version."
    )
    activate = forms.BooleanField(
        required=False,
        label="Activate the new version",
        help_text="New calls run it at once. Unticked, the version is kept for later activation.",
    )

    class Meta:
        model = CallFlow
        fields = ["project", "name"]

    def clean_name(self) -> str:
        try:
            return flow_services.name_check(self.cleaned_data["name"])
        except ApiError as error:
            raise ValidationError(error.details.get("name") or error.message) from None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        latest = self.instance.versions.order_by("-number").first() if self.instance.pk else None
        self.latest_version = latest
        if latest is not None:
            self.fields["definition"].initial = pretty(latest.definition)
        else:
            self.fields["definition"].initial = pretty({"steps": [{"say": {"text": "Hello."}}, {"hangup": {}}]})
            # A new flow's first version is active at once, as over the API.
            del self.fields["activate"]


@admin.register(CallFlow)
class CallFlowAdmin(admin.ModelAdmin):
    form = CallFlowForm
    list_display = ["name", "project", "active_version_number", "latest_version_number", "created_at"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project", "active_version"]
    autocomplete_fields = ["project"]
    inlines: list[type[admin.options.InlineModelAdmin]] = []  # set below, after the inline is defined

    class Media:
        css = {"all": ["telecom/admin/flows.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[CallFlow]:
        return super().get_queryset(request).annotate(latest_number=Max("versions__number"))

    def get_fields(self, request: HttpRequest, obj: CallFlow | None = None) -> list[str]:
        if obj is None:
            return ["project", "name", "definition"]
        return ["project", "name", "active_version_number", "definition", "activate", "diagram", "created_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: CallFlow | None = None) -> list[str]:
        if obj is None:
            return []
        return ["project", "name", "active_version_number", "diagram", "created_by"]

    @admin.display(description="active version", ordering="active_version__number")
    def active_version_number(self, flow: CallFlow) -> str:
        return f"v{flow.active_version.number}" if flow.active_version_id else "none"

    @admin.display(description="latest version", ordering="latest_number")
    def latest_version_number(self, flow: CallFlow) -> str:
        latest = getattr(flow, "latest_number", None)
        return f"v{latest}" if latest else "none"

    @admin.display(description="active version, step by step")
    def diagram(self, flow: CallFlow) -> SafeString | str:
        if not flow.active_version_id:
            return "No active version."
        definition = flow.active_version.definition
        if flows.validate(definition):  # written before a rule existed: show it as it is
            return format_html("<pre>{}</pre>", pretty(definition))
        return format_html('<div class="flow-diagram">{}</div>', flow_diagram(definition["steps"]))

    def save_model(self, request: HttpRequest, obj: CallFlow, form: CallFlowForm, change: bool) -> None:
        definition = form.cleaned_data["definition"]
        if not change:
            created = flow_services.call_flow_create(
                project=obj.project, actor=request.user, name=obj.name, definition=definition
            )
            obj.pk, obj.created_at, obj.created_by = created.pk, created.created_at, created.created_by
            obj.active_version = created.active_version
            return
        latest = form.latest_version
        target = latest
        if latest is None or latest.definition != definition:
            target = flow_services.call_flow_version_add(flow=obj, actor=request.user, definition=definition)
            self.message_user(request, f"Saved as version {target.number}.", messages.SUCCESS)
        elif not form.cleaned_data.get("activate"):
            self.message_user(request, "The definition did not change: no new version.", messages.INFO)
        if form.cleaned_data.get("activate") and target is not None:
            flow_services.call_flow_activate(flow=obj, version=target)
            self.message_user(request, f"Version {target.number} is active.", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_activate"
        view = self.admin_site.admin_view(self.activate_view)
        return [path("<path:object_id>/versions/<int:number>/activate/", view, name=name), *super().get_urls()]

    def activate_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        """Ask, then make one version active (rolling back when it is older than the active one)."""
        flow = self.get_object(request, unquote(object_id))
        if flow is None:
            raise Http404("No such flow.")
        if not self.has_change_permission(request, flow):
            raise PermissionDenied
        version = flow.versions.filter(number=number).first()
        if version is None:
            raise Http404("No such version.")
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[flow.pk])
        if request.method == "POST":
            try:
                flow_services.call_flow_activate(flow=flow, version=version)
            except ApiError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.log_change(request, flow, f"Activated version {number}.")
                self.message_user(request, f"Version {number} of “{flow}” is active.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        active = flow.active_version.number if flow.active_version_id else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Activate version {number}",
            "flow": flow,
            "version": version,
            "active": active,
            "rollback": active is not None and number < active,
            "diagram": format_html('<div class="flow-diagram">{}</div>', flow_diagram(version.definition["steps"]))
            if not flows.validate(version.definition)
            else format_html("<pre>{}</pre>", pretty(version.definition)),
            "change_url": change_url,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/telecom/callflow/activate_version.html", context)


class CallFlowVersionInline(ReadOnlyInline):
    model = CallFlowVersion
    fields = ["number", "created_at", "created_by", "step_count", "state"]
    readonly_fields = fields
    ordering = ["-number"]
    verbose_name_plural = "version history"

    @admin.display(description="steps")
    def step_count(self, version: CallFlowVersion) -> int | str:
        if flows.validate(version.definition):
            return "invalid"
        return sum(1 for _ in flows.iter_steps(version.definition["steps"]))

    @admin.display(description="")
    def state(self, version: CallFlowVersion) -> str:
        flow = version.flow
        if flow.active_version_id == version.pk:
            return mark_safe("<strong>active</strong>")
        active = flow.active_version.number if flow.active_version_id else 0
        url = reverse("admin:telecom_callflow_activate", args=[flow.pk, version.number])
        words = "Roll back to this version" if version.number < active else "Activate"
        return format_html('<a class="button" href="{}">{}</a>', url, words)


CallFlowAdmin.inlines = [CallFlowVersionInline]


@admin.register(CallFlowVersion)
class CallFlowVersionAdmin(RecordAdmin):
    list_display = ["flow", "number", "is_active", "created_by", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["flow__name", "flow__project__name"]
    list_select_related = ["flow__project", "flow__active_version", "created_by"]
    fields = ["flow", "number", "created_by", "created_at", "definition_json"]
    readonly_fields = fields
    actions = ["activate"]

    @admin.display(boolean=True, description="active")
    def is_active(self, version: CallFlowVersion) -> bool:
        return version.flow.active_version_id == version.pk

    @admin.display(description="definition")
    def definition_json(self, version: CallFlowVersion) -> str:
        return format_html('<pre class="flow-json">{}</pre>', pretty(version.definition))

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("telecom.change_callflow")

    @admin.action(description="Activate the selected version (one per flow)", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet[CallFlowVersion]) -> None:
        versions = list(queryset.select_related("flow"))
        if len({version.flow_id for version in versions}) != len(versions):
            self.message_user(request, "Select at most one version of each flow.", messages.ERROR)
            return
        for version in versions:
            flow_services.call_flow_activate(flow=version.flow, version=version)
            self.log_change(request, version.flow, f"Activated version {version.number}.")
        self.message_user(request, f"Activated {len(versions)} version(s).", messages.SUCCESS)


# --- calls ------------------------------------------------------------------------------------


class CallEventInline(ReadOnlyInline):
    model = CallEvent
    fields = ["seq", "at", "kind", "data"]
    readonly_fields = fields
    ordering = ["seq"]
    verbose_name_plural = "timeline"


class CallRecordingInline(ReadOnlyInline):
    model = CallRecording
    fields = ["sid", "name", "status", "format", "duration_seconds", "size_bytes", "created_at", "download"]
    readonly_fields = fields

    @admin.display(description="audio")
    def download(self, recording: CallRecording) -> str:
        if recording.status != CallRecording.Status.STORED or not recording.file:
            return recording.get_status_display()
        url = reverse("admin:telecom_voicecall_recording", args=[recording.call_id, recording.sid])
        return format_html('<a href="{}">Download</a>', url)


@admin.register(VoiceCall)
class VoiceCallAdmin(RecordAdmin):
    list_display = [
        "sid", "project", "direction", "from_number", "to_number", "status", "duration", "connector", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "direction", "connector", "created_at"]
    search_fields = ["sid", "to_number", "from_number"]
    list_select_related = ["project", "connector"]
    date_hierarchy = "created_at"
    inlines = [CallEventInline, CallRecordingInline]
    exclude = ["definition", "orchestrator_state"]
    readonly_fields = ["definition_json", "orchestrator_state_json"]
    show_full_result_count = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # read-only; silences Django 6's notice

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, call: VoiceCall) -> str:
        return f"{call.duration_seconds // 60}:{call.duration_seconds % 60:02d}"

    @admin.display(description="definition it runs")
    def definition_json(self, call: VoiceCall) -> str:
        return format_html('<pre class="flow-json">{}</pre>', pretty(call.definition))

    @admin.display(description="orchestrator state")
    def orchestrator_state_json(self, call: VoiceCall) -> str:
        return format_html('<pre class="flow-json">{}</pre>', pretty(call.orchestrator_state))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.recording_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_recording"
        return [path("<path:object_id>/recordings/<str:sid>/", view, name=name), *super().get_urls()]

    def recording_view(self, request: HttpRequest, object_id: str, sid: str) -> HttpResponse:
        """The recording's audio from storage, for staff who may see the call."""
        call = self.get_object(request, unquote(object_id))
        if call is None or not self.has_view_permission(request, call):
            raise Http404("No such call.")
        recording = call.recordings.filter(sid=sid, status=CallRecording.Status.STORED).first()
        if recording is None or not recording.file:
            raise Http404("No such recording.")
        try:
            stored = recording.file.storage.open(recording.file.name, "rb")
        except (FileNotFoundError, OSError):
            raise Http404("The recording's file is missing.") from None
        return FileResponse(stored, as_attachment=True, filename=f"{recording.sid}.{recording.format or 'wav'}")
