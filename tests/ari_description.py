"""The ARI description the simulator serves: the operations and models it implements, nothing more.

Written for FastSock from the shape of Asterisk's published Swagger 1.1 description (resource,
method, path, nickname, parameter names and types, error codes, model fields), in our own
compact notation; Asterisk's own files are not copied. ``tests/test_ari_conformance.py`` checks
every entry here against them, so a mistake here fails a test instead of hiding a bug.

:func:`resource_listing` and :func:`api_declaration` render it as the JSON a client such as
asyncari loads at connect (``/ari/api-docs/resources.json`` and ``/ari/api-docs/<name>.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

API_VERSION = "2.0.0"
SWAGGER_VERSION = "1.1"

CHANNEL_STATES = (
    "Down",
    "Rsrved",
    "OffHook",
    "Dialing",
    "Ring",
    "Ringing",
    "Up",
    "Busy",
    "Dialing Offhook",
    "Pre-ring",
    "Unknown",
)
HANGUP_REASONS = (
    "normal",
    "busy",
    "congestion",
    "no_answer",
    "timeout",
    "rejected",
    "unallocated",
    "normal_unspecified",
    "number_incomplete",
    "codec_mismatch",
    "interworking",
    "failure",
    "answered_elsewhere",
)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str = "query"  # query | path | body
    type: str = "string"
    required: bool = False
    multiple: bool = False
    values: tuple[str, ...] | None = None  # allowableValues LIST
    minimum: int | None = None  # allowableValues RANGE
    default: Any = None
    about: str = ""

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "name": self.name,
            "description": self.about or self.name,
            "paramType": self.kind,
            "required": self.required or self.kind == "path",
            "allowMultiple": self.multiple,
            "dataType": self.type,
        }
        if self.default is not None:
            rendered["defaultValue"] = self.default
        if self.values is not None:
            rendered["allowableValues"] = {"valueType": "LIST", "values": list(self.values)}
        elif self.minimum is not None:
            rendered["allowableValues"] = {"valueType": "RANGE", "min": self.minimum}
        return rendered


def path(name: str) -> Param:
    return Param(name, kind="path", required=True, about=f"the {name}")


def query(name: str, type: str = "string", **options: Any) -> Param:
    return Param(name, type=type, **options)


@dataclass(frozen=True)
class Operation:
    resource: str  # the API declaration it belongs to: channels, bridges, …
    method: str
    path: str  # relative to basePath, e.g. /channels/{channelId}/answer
    nickname: str
    response: str  # responseClass
    params: tuple[Param, ...] = ()
    errors: tuple[tuple[int, str], ...] = ()
    summary: str = ""
    websocket: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "httpMethod": self.method,
            "summary": self.summary or self.nickname,
            "nickname": self.nickname,
            "responseClass": self.response,
            "parameters": [p.render() for p in self.params],
        }
        if self.errors:
            rendered["errorResponses"] = [{"code": code, "reason": reason} for code, reason in self.errors]
        if self.websocket:
            rendered["upgrade"] = "websocket"
            rendered["websocketProtocol"] = "ari"
        return rendered


CHANNEL = path("channelId")
BRIDGE = path("bridgeId")
PLAYBACK = path("playbackId")
RECORDING = path("recordingName")
TIMEOUT_30 = query("timeout", "int", default=30, about="seconds to ring; -1 for no limit")
RECORD_PARAMS = (
    query("name", required=True, about="the stored recording's name"),
    query("format", required=True, about="audio format, e.g. wav"),
    query("maxDurationSeconds", "int", minimum=0, default=0, about="0 for no limit"),
    query("maxSilenceSeconds", "int", minimum=0, default=0, about="0 for no limit"),
    query("ifExists", values=("fail", "overwrite", "append"), default="fail"),
    query("beep", "boolean", default=False),
    query("terminateOn", values=("none", "any", "*", "#"), default="none"),
)
ORIGINATE_PARAMS = (
    query("endpoint", required=True, about="e.g. PJSIP/+15551234567@trunk"),
    query("app", about="the Stasis application the answered channel enters"),
    query("appArgs", about="comma-separated arguments for StasisStart"),
    query("callerId"),
    TIMEOUT_30,
)
NOT_FOUND = (404, "Channel not found")
NOT_IN_STASIS = (409, "Channel not in a Stasis application")
BAD_STATE = (412, "Channel in invalid state")

OPERATIONS: tuple[Operation, ...] = (
    # asterisk
    Operation(
        "asterisk",
        "GET",
        "/asterisk/info",
        "getInfo",
        "AsteriskInfo",
        (query("only", multiple=True, values=("build", "system", "config", "status")),),
        summary="What this Asterisk is and how it runs",
    ),
    Operation("asterisk", "GET", "/asterisk/ping", "ping", "AsteriskPing", summary="Liveness"),
    # channels
    Operation("channels", "GET", "/channels", "list", "List[Channel]", summary="Live channels"),
    Operation(
        "channels",
        "POST",
        "/channels",
        "originate",
        "Channel",
        (*ORIGINATE_PARAMS, query("channelId"), query("originator")),
        ((400, "Invalid parameters for originating"), (409, "A channel with this id exists")),
        summary="Call an endpoint",
    ),
    Operation(
        "channels",
        "POST",
        "/channels/create",
        "create",
        "Channel",
        (
            query("endpoint", required=True),
            query("app", required=True),
            query("appArgs"),
            query("channelId"),
            query("originator"),
            Param("variables", kind="body", type="containers", about='{"variables": {"CALLERID(num)": …}}'),
        ),
        ((409, "A channel with this id exists"),),
        summary="Make a channel to dial later",
    ),
    Operation("channels", "GET", "/channels/{channelId}", "get", "Channel", (CHANNEL,), (NOT_FOUND,)),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}",
        "originateWithId",
        "Channel",
        (CHANNEL, *ORIGINATE_PARAMS, query("originator")),
        ((400, "Invalid parameters for originating"), (409, "A channel with this id exists")),
        summary="Call an endpoint, naming the channel",
    ),
    Operation(
        "channels",
        "DELETE",
        "/channels/{channelId}",
        "hangup",
        "void",
        (CHANNEL, query("reason_code"), query("reason", values=HANGUP_REASONS)),
        ((400, "Invalid hangup reason"), NOT_FOUND),
        summary="Hang up",
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/answer",
        "answer",
        "void",
        (CHANNEL,),
        (NOT_FOUND, NOT_IN_STASIS, BAD_STATE),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/play",
        "play",
        "Playback",
        (CHANNEL, query("media", required=True, multiple=True), query("lang"), query("playbackId")),
        (NOT_FOUND, NOT_IN_STASIS, BAD_STATE),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/play/{playbackId}",
        "playWithId",
        "Playback",
        (CHANNEL, PLAYBACK, query("media", required=True, multiple=True), query("lang")),
        (NOT_FOUND, NOT_IN_STASIS, BAD_STATE),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/record",
        "record",
        "LiveRecording",
        (CHANNEL, *RECORD_PARAMS),
        (
            (400, "Invalid parameters"),
            NOT_FOUND,
            (409, "Not in Stasis, bridged, or the name is taken"),
            (422, "Unknown format"),
        ),
        summary="Record what the channel hears from its caller",
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/dial",
        "dial",
        "void",
        (CHANNEL, query("caller"), query("timeout", "int", minimum=0, default=0)),
        ((404, "Channel not found"), (409, "Channel cannot be dialed")),
    ),
    # bridges
    Operation("bridges", "GET", "/bridges", "list", "List[Bridge]"),
    Operation(
        "bridges",
        "POST",
        "/bridges",
        "create",
        "Bridge",
        (query("type", about="comma-separated: mixing, holding, dtmf_events, …"), query("bridgeId"), query("name")),
        ((409, "A bridge with this id exists"),),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}",
        "createWithId",
        "Bridge",
        (query("type"), BRIDGE, query("name")),
        ((409, "A bridge with this id exists"),),
    ),
    Operation("bridges", "GET", "/bridges/{bridgeId}", "get", "Bridge", (BRIDGE,), ((404, "Bridge not found"),)),
    Operation("bridges", "DELETE", "/bridges/{bridgeId}", "destroy", "void", (BRIDGE,), ((404, "Bridge not found"),)),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/addChannel",
        "addChannel",
        "void",
        (
            BRIDGE,
            query("channel", required=True, multiple=True),
            query("role"),
            query("absorbDTMF", "boolean", default=False),
            query("mute", "boolean", default=False),
        ),
        (
            (400, "Channel not found"),
            (404, "Bridge not found"),
            (409, "Channel recording"),
            (422, "Channel not in Stasis"),
        ),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/removeChannel",
        "removeChannel",
        "void",
        (BRIDGE, query("channel", required=True, multiple=True)),
        ((400, "Channel not found"), (404, "Bridge not found"), (422, "Channel not in this bridge")),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/record",
        "record",
        "LiveRecording",
        (BRIDGE, *RECORD_PARAMS),
        (
            (400, "Invalid parameters"),
            (404, "Bridge not found"),
            (409, "The name is taken"),
            (422, "Unknown format"),
        ),
        summary="Record both sides of a bridge",
    ),
    # playbacks
    Operation("playbacks", "GET", "/playbacks/{playbackId}", "get", "Playback", (PLAYBACK,), ((404, "No such"),)),
    Operation("playbacks", "DELETE", "/playbacks/{playbackId}", "stop", "void", (PLAYBACK,), ((404, "No such"),)),
    # recordings
    Operation("recordings", "GET", "/recordings/stored", "listStored", "List[StoredRecording]"),
    Operation(
        "recordings",
        "GET",
        "/recordings/stored/{recordingName}",
        "getStored",
        "StoredRecording",
        (RECORDING,),
        ((404, "Recording not found"),),
    ),
    Operation(
        "recordings",
        "DELETE",
        "/recordings/stored/{recordingName}",
        "deleteStored",
        "void",
        (RECORDING,),
        ((404, "Recording not found"),),
    ),
    Operation(
        "recordings",
        "GET",
        "/recordings/stored/{recordingName}/file",
        "getStoredFile",
        "binary",
        (RECORDING,),
        ((403, "File cannot be opened"), (404, "Recording not found")),
    ),
    Operation(
        "recordings",
        "GET",
        "/recordings/live/{recordingName}",
        "getLive",
        "LiveRecording",
        (RECORDING,),
        ((404, "Recording not found"),),
    ),
    Operation(
        "recordings",
        "DELETE",
        "/recordings/live/{recordingName}",
        "cancel",
        "void",
        (RECORDING,),
        ((404, "Recording not found"),),
    ),
    Operation(
        "recordings",
        "POST",
        "/recordings/live/{recordingName}/stop",
        "stop",
        "void",
        (RECORDING,),
        ((404, "Recording not found"),),
    ),
    # events
    Operation(
        "events",
        "GET",
        "/events",
        "eventWebsocket",
        "Message",
        (query("app", required=True, multiple=True), query("subscribeAll", "boolean")),
        websocket=True,
        summary="The events of the named applications",
    ),
)

# Models, per API declaration: property -> "type" ("!" at the end: required), or (type, allowed values).
ModelSpec = dict[str, str | tuple[str, tuple[str, ...]]]
MODELS: dict[str, dict[str, ModelSpec]] = {
    "asterisk": {
        "BuildInfo": {
            "os": "string!",
            "kernel": "string!",
            "options": "string!",
            "machine": "string!",
            "date": "string!",
            "user": "string!",
        },
        "SystemInfo": {"version": "string!", "entity_id": "string!"},
        "SetId": {"user": "string!", "group": "string!"},
        "ConfigInfo": {"name": "string!", "default_language": "string!", "max_channels": "int", "setid": "SetId!"},
        "StatusInfo": {"startup_time": "Date!", "last_reload_time": "Date!"},
        "AsteriskInfo": {"build": "BuildInfo", "system": "SystemInfo", "config": "ConfigInfo", "status": "StatusInfo"},
        "AsteriskPing": {"asterisk_id": "string!", "ping": "string!", "timestamp": "string!"},
    },
    "channels": {
        "CallerID": {"name": "string!", "number": "string!"},
        "DialplanCEP": {
            "context": "string!",
            "exten": "string!",
            "priority": "long!",
            "app_name": "string!",
            "app_data": "string!",
        },
        "Channel": {
            "id": "string!",
            "protocol_id": "string!",
            "name": "string!",
            "state": ("string!", CHANNEL_STATES),
            "caller": "CallerID!",
            "connected": "CallerID!",
            "accountcode": "string!",
            "dialplan": "DialplanCEP!",
            "creationtime": "Date!",
            "language": "string!",
        },
    },
    "bridges": {
        "Bridge": {
            "id": "string!",
            "technology": "string!",
            "bridge_type": ("string!", ("mixing", "holding")),
            "bridge_class": "string!",
            "creator": "string!",
            "name": "string!",
            "channels": "List[string]!",
            "creationtime": "Date!",
        },
    },
    "playbacks": {
        "Playback": {
            "id": "string!",
            "media_uri": "string!",
            "next_media_uri": "string",
            "target_uri": "string!",
            "language": "string",
            "state": ("string!", ("queued", "playing", "continuing", "done", "failed")),
        },
    },
    "recordings": {
        "StoredRecording": {"name": "string!", "format": "string!"},
        "LiveRecording": {
            "name": "string!",
            "format": "string!",
            "target_uri": "string!",
            "state": ("string!", ("queued", "recording", "paused", "done", "failed", "canceled")),
            "duration": "int",
            "cause": "string",
        },
    },
    "events": {
        "Message": {"type": "string!", "asterisk_id": "string"},
        "Event": {"application": "string!", "timestamp": "Date!"},
        "StasisStart": {"args": "List[string]!", "channel": "Channel!", "replace_channel": "Channel"},
        "StasisEnd": {"channel": "Channel!"},
        "ChannelStateChange": {"channel": "Channel!"},
        "ChannelDtmfReceived": {"digit": "string!", "duration_ms": "int!", "channel": "Channel!"},
        "ChannelHangupRequest": {"cause": "int", "soft": "boolean", "channel": "Channel!"},
        "ChannelDestroyed": {"cause": "int!", "cause_txt": "string!", "channel": "Channel!"},
        "Dial": {"caller": "Channel", "peer": "Channel!", "dialstring": "string", "dialstatus": "string!"},
        "ChannelEnteredBridge": {"bridge": "Bridge!", "channel": "Channel"},
        "ChannelLeftBridge": {"bridge": "Bridge!", "channel": "Channel!"},
        "BridgeDestroyed": {"bridge": "Bridge!"},
        "PlaybackStarted": {"playback": "Playback!"},
        "PlaybackContinuing": {"playback": "Playback!"},
        "PlaybackFinished": {"playback": "Playback!"},
        "RecordingStarted": {"recording": "LiveRecording!"},
        "RecordingFinished": {"recording": "LiveRecording!"},
        "RecordingFailed": {"recording": "LiveRecording!"},
        "ApplicationReplaced": {},
    },
}
EVENT_TYPES: tuple[str, ...] = tuple(name for name in MODELS["events"] if name not in ("Message", "Event"))
RESOURCES: tuple[str, ...] = ("asterisk", "channels", "bridges", "recordings", "playbacks", "events")


def _render_model(name: str, spec: ModelSpec) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for prop, kind in spec.items():
        values: tuple[str, ...] | None = None
        if isinstance(kind, tuple):
            kind, values = kind
        required = kind.endswith("!")
        rendered: dict[str, Any] = {"type": kind.rstrip("!"), "required": required}
        if values is not None:
            rendered["allowableValues"] = {"valueType": "LIST", "values": list(values)}
        properties[prop] = rendered
    model: dict[str, Any] = {"id": name, "description": name, "properties": properties}
    if name == "Message":
        model["discriminator"] = "type"
        model["subTypes"] = ["Event"]
    elif name == "Event":
        model["subTypes"] = list(EVENT_TYPES)
    return model


def resource_listing(base_path: str) -> dict[str, Any]:
    """``resources.json``: where each API declaration is; ``base_path`` is ``http://host:port/ari``."""
    return {
        "apiVersion": API_VERSION,
        "swaggerVersion": SWAGGER_VERSION,
        "basePath": base_path,
        "apis": [{"path": f"/api-docs/{name}.{{format}}", "description": f"{name} (simulated)"} for name in RESOURCES],
    }


def api_declaration(resource: str, base_path: str) -> dict[str, Any]:
    """``<resource>.json``: its operations grouped by path, and its models."""
    apis: dict[str, list[dict[str, Any]]] = {}
    for operation in OPERATIONS:
        if operation.resource == resource:
            apis.setdefault(operation.path, []).append(operation.render())
    return {
        "apiVersion": API_VERSION,
        "swaggerVersion": SWAGGER_VERSION,
        "basePath": base_path,
        "resourcePath": f"/api-docs/{resource}.{{format}}",
        "apis": [
            {"path": api_path, "description": f"{resource} {api_path}", "operations": operations}
            for api_path, operations in apis.items()
        ],
        "models": {name: _render_model(name, spec) for name, spec in MODELS.get(resource, {}).items()},
    }
