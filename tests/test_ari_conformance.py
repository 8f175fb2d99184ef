"""The ARI simulator and the adapter keep to Asterisk's published ARI description.

Asterisk's own Swagger files (../shared/ari/, or FASTSOCK_ARI_DOCS) are read here at test time
and never copied into the project. One scripted run drives every adapter method and every
simulated behaviour through the simulator; then

(a) every operation the simulator serves, and every REST call the adapter made in that run, is
    in Asterisk's description with the same method, path template and parameter names, required
    parameters present and allowable values respected;
(b) every event the simulator emitted validates against its model in events.json (required
    fields, types, nested Channel/Bridge/Playback/LiveRecording models), and the run emitted
    every event type the simulator claims;
(c) the description the simulator serves (tests/ari_description.py) agrees with Asterisk's.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from telecom.ari import AriClient, AriConflict, AriNotFound
from tests import ari_description
from tests.ari_simulator import AriSimulator, LoggedRequest, Party, running_ari_simulator


def ari_docs_folder() -> Path:
    configured = os.environ.get("FASTSOCK_ARI_DOCS")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "ari"


@dataclass(frozen=True)
class RealOperation:
    resource: str
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def nickname(self) -> str:
        return self.spec["nickname"]

    def params(self) -> dict[str, dict[str, Any]]:
        return {param["name"]: param for param in self.spec.get("parameters", [])}

    def error_codes(self) -> set[int]:
        return {int(error["code"]) for error in self.spec.get("errorResponses", [])}


@dataclass(frozen=True)
class Asterisk:
    """Asterisk's published description: its operations and all its models."""

    listing: dict[str, Any]
    operations: list[RealOperation]
    models: dict[str, dict[str, Any]]

    def operation(self, method: str, path: str) -> RealOperation | None:
        return next((op for op in self.operations if op.method == method and op.path == path), None)

    def route(self, method: str, relative_path: str) -> tuple[RealOperation, dict[str, str]] | None:
        """The operation a concrete path reaches, literal paths first as Asterisk routes them."""
        candidates = sorted((op for op in self.operations if op.method == method), key=lambda op: op.path.count("{"))
        for op in candidates:
            pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(op.path)) + "$"
            match = re.match(pattern, relative_path)
            if match:
                return op, match.groupdict()
        return None


@pytest.fixture(scope="module")
def asterisk() -> Asterisk:
    folder = ari_docs_folder()
    if not (folder / "resources.json").is_file():
        pytest.skip(f"Asterisk's ARI description is not at {folder} (set FASTSOCK_ARI_DOCS to its folder)")
    return load_asterisk(folder)


def load_asterisk(folder: Path) -> Asterisk:
    """Asterisk's description from ``folder`` (resources.json and the declarations it lists)."""
    listing = json.loads((folder / "resources.json").read_text())
    operations: list[RealOperation] = []
    models: dict[str, dict[str, Any]] = {}
    for entry in listing["apis"]:
        resource = entry["path"].split("/")[-1].split(".")[0]
        declaration = json.loads((folder / f"{resource}.json").read_text())
        models.update(declaration.get("models", {}))
        for api in declaration["apis"]:
            operations.extend(RealOperation(resource, op["httpMethod"], api["path"], op) for op in api["operations"])
    return Asterisk(listing, operations, models)


# One scripted run through the adapter that covers every behaviour -------------------------------


@dataclass(frozen=True)
class Run:
    requests: list[LoggedRequest]
    events: list[dict[str, Any]]
    served: dict[str, dict[str, Any]]  # the description documents the simulator served, by file name


@pytest.fixture(scope="module")
def run(asterisk: Asterisk) -> Iterator[Run]:
    with running_ari_simulator(time_scale=0.01) as sim:
        asyncio.run(scripted_calls(sim))
        served = fetch_description(sim)
        assert sim.errors == []
        yield Run(sim.requests, sim.events, served)


def fetch_description(sim: AriSimulator) -> dict[str, dict[str, Any]]:
    auth = (sim.username, sim.password)
    served = {"resources.json": httpx.get(f"{sim.url}/ari/api-docs/resources.json", auth=auth).json()}
    for resource in ari_description.RESOURCES:
        served[f"{resource}.json"] = httpx.get(f"{sim.url}/ari/api-docs/{resource}.json", auth=auth).json()
    return served


async def scripted_calls(sim: AriSimulator) -> None:
    """Every adapter method and every simulated behaviour, against one simulator."""
    sim.script("+15550000001", Party(digits="1", ring_seconds=1))
    sim.script("+15550000002", Party(outcome="busy"))
    sim.script("+15550000003", Party(outcome="no_answer"))
    sim.script("@trunk-down", Party(outcome="unavailable", ring_seconds=0))
    sim.script("@trunk-full", Party(outcome="congestion", ring_seconds=0))
    sim.media_seconds["sound:long"] = 600

    def wait(event_type: str, channel_id: str | None = None, **options: Any) -> Any:
        return sim.wait_for_event_async(event_type, channel_id=channel_id, **options)

    async with AriClient.connect(url=sim.url, app=sim.app, username=sim.username, password=sim.password) as ari:
        await ari.info()

        # Outbound: answered (digit pressed), a repeat that conflicts, two prompts, our hang-up.
        await ari.originate(
            endpoint="PJSIP/+15550000001@trunk-a",
            channel_id="out-1",
            app_args="dialed,out-1",
            caller_id='"Shop" <+1415>',
        )
        with pytest.raises(AriConflict):
            await ari.originate(endpoint="PJSIP/+15550000001@trunk-a", channel_id="out-1")
        await wait("ChannelDtmfReceived", "out-1")
        await ari.play("out-1", media=["sound:hello", "number:42"], playback_id="pb-1", lang="en")
        await wait("PlaybackFinished", where=lambda e: e["playback"]["id"] == "pb-1")
        await ari.play("out-1", media=["sound:long"], playback_id="pb-2")
        await wait("PlaybackStarted", where=lambda e: e["playback"]["id"] == "pb-2")
        await ari.stop_playback("pb-2")
        with pytest.raises(AriNotFound):
            await ari.stop_playback("pb-2")
        await ari.get_channel("out-1")
        await ari.hangup("out-1", reason="normal")

        # Outbound that fail: busy, no answer (dial timeout), unavailable and congested trunks.
        await ari.originate(endpoint="PJSIP/+15550000002@trunk-a", channel_id="out-2")
        await ari.originate(endpoint="PJSIP/+15550000003@trunk-a", channel_id="out-3", timeout=2)
        await ari.originate(endpoint="PJSIP/+15550000004@trunk-down", channel_id="out-4")
        await ari.originate(endpoint="PJSIP/+15550000005@trunk-full", channel_id="out-5")
        for channel_id in ("out-2", "out-3", "out-4", "out-5"):
            await wait("ChannelDestroyed", channel_id)
        with pytest.raises(AriNotFound):
            await ari.get_channel("out-2")

        # Inbound: answered, records until '#', then bridged to a dialled callee, both recorded.
        caller = sim.inbound_call(caller="+4915112345678", dialed="+14155550100", args=["inbound"])
        await wait("StasisStart", caller)
        await ari.answer(caller)
        await ari.record_channel(caller, name="vm-1", max_seconds=60, beep=True, terminate_on="#")
        await wait("RecordingStarted", where=lambda e: e["recording"]["name"] == "vm-1")
        sim.press(caller, "7#")
        await wait("RecordingFinished", where=lambda e: e["recording"]["name"] == "vm-1")
        await ari.stored_recording_file("vm-1")
        await ari.delete_stored_recording("vm-1")

        await ari.create_channel(
            endpoint="PJSIP/+15550000001@trunk-a", channel_id="leg-b", app_args="dialed,leg-b", originator=caller
        )
        await ari.create_bridge("br-1", type="mixing")
        await ari.add_to_bridge("br-1", [caller])
        await ari.dial("leg-b", caller=caller, timeout=30)
        await wait("Dial", "leg-b", where=lambda e: e["dialstatus"] == "ANSWER")
        await ari.add_to_bridge("br-1", ["leg-b"])
        await ari.record_bridge("br-1", name="call-1", max_seconds=3600, beep=False)
        await wait("RecordingStarted", where=lambda e: e["recording"]["name"] == "call-1")
        await ari.stop_recording("call-1")
        await wait("RecordingFinished", where=lambda e: e["recording"]["name"] == "call-1")
        await ari.stored_recording_file("call-1")
        await ari.destroy_bridge("br-1")
        await wait("BridgeDestroyed")
        sim.hang_up("leg-b")
        await ari.hangup(caller, reason="busy")

        # A recording whose caller hangs up during the beep fails.
        quitter = sim.inbound_call(caller="+4915112345679", dialed="+14155550100")
        await wait("StasisStart", quitter)
        await ari.answer(quitter)
        await ari.record_channel(quitter, name="vm-2", max_seconds=60, beep=True)
        sim.hang_up(quitter)
        await wait("RecordingFailed")

        # A second connection for the same app replaces the first.
        async with AriClient.connect(url=sim.url, app=sim.app, username=sim.username, password=sim.password):
            await wait("ApplicationReplaced")


# (a) operations and requests -------------------------------------------------------------------


def parameter_problems(ours: dict[str, Any], real: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("paramType", "dataType", "allowMultiple", "allowableValues"):
        if ours.get(key) != real.get(key):
            problems.append(f"{ours['name']}.{key}: ours {ours.get(key)!r}, Asterisk's {real.get(key)!r}")
    if bool(ours.get("required")) != bool(real.get("required")):
        problems.append(f"{ours['name']}.required differs")
    if "defaultValue" in ours and ours["defaultValue"] != real.get("defaultValue"):
        problems.append(
            f"{ours['name']}.defaultValue: ours {ours['defaultValue']!r}, Asterisk's {real.get('defaultValue')!r}"
        )
    return problems


def operation_problems(resource: str, path: str, ours: dict[str, Any], asterisk: Asterisk) -> list[str]:
    where = f"{ours['httpMethod']} {path}"
    real = asterisk.operation(ours["httpMethod"], path)
    if real is None:
        return [f"{where}: not in Asterisk's description"]
    problems = []
    if (real.resource, real.nickname) != (resource, ours["nickname"]):
        problems.append(f"{where}: ours {resource}.{ours['nickname']}, Asterisk's {real.resource}.{real.nickname}")
    if ours["responseClass"] != real.spec["responseClass"]:
        problems.append(f"{where}: responseClass {ours['responseClass']} vs {real.spec['responseClass']}")
    if ours.get("upgrade") != real.spec.get("upgrade"):
        problems.append(f"{where}: websocket upgrade differs")
    real_params = real.params()
    for param in ours["parameters"]:
        if param["name"] not in real_params:
            problems.append(f"{where}: parameter {param['name']} is not Asterisk's")
        else:
            problems += [f"{where}: {p}" for p in parameter_problems(param, real_params[param["name"]])]
    declared = {param["name"] for param in ours["parameters"]}
    missing = [name for name, param in real_params.items() if param.get("required") and name not in declared]
    if missing:
        problems.append(f"{where}: required parameters missing: {missing}")
    unknown_codes = {int(e["code"]) for e in ours.get("errorResponses", [])} - real.error_codes()
    if unknown_codes:
        problems.append(f"{where}: error codes Asterisk does not document: {sorted(unknown_codes)}")
    return problems


def test_every_operation_the_simulator_serves_is_asterisks(asterisk: Asterisk) -> None:
    problems = []
    for op in ari_description.OPERATIONS:
        problems += operation_problems(op.resource, op.path, op.render(), asterisk)

    assert problems == []


def value_problems(name: str, param: dict[str, Any], raw: list[str]) -> list[str]:
    values = [item for value in raw for item in value.split(",")] if param.get("allowMultiple") else raw
    if len(values) > 1 and not param.get("allowMultiple"):
        return [f"{name} given {len(values)} times"]
    problems = []
    allowed = param.get("allowableValues") or {}
    for value in values:
        if param["dataType"] in ("int", "long"):
            if not re.fullmatch(r"-?\d+", value):
                problems.append(f"{name}={value!r} is not an integer")
                continue
            number = int(value)
            if allowed.get("valueType") == "RANGE" and not (
                allowed.get("min", number) <= number <= allowed.get("max", number)
            ):
                problems.append(f"{name}={number} outside {allowed}")
        elif param["dataType"] == "boolean" and value not in ("true", "false"):
            problems.append(f"{name}={value!r} is not a boolean")
        elif allowed.get("valueType") == "LIST" and value not in allowed["values"]:
            problems.append(f"{name}={value!r} not in {allowed['values']}")
    return problems


def request_problems(request: LoggedRequest, asterisk: Asterisk) -> list[str]:
    where = f"{request.method} {request.path}"
    routed = asterisk.route(request.method, request.path.removeprefix("/ari"))
    if routed is None:
        return [f"{where}: no such operation in Asterisk's description"]
    real, path_params = routed
    problems = []
    if request.nickname != real.nickname:
        problems.append(f"{where}: the simulator served {request.nickname}, Asterisk would run {real.nickname}")
    if any(not urllib.parse.unquote_plus(value) for value in path_params.values()):
        problems.append(f"{where}: an empty path parameter")
    params = real.params()
    for name, raw in request.query.items():
        param = params.get(name)
        if param is None or param["paramType"] != "query":
            problems.append(f"{where}: {name} is not a query parameter of {real.nickname}")
        else:
            problems += [f"{where}: {p}" for p in value_problems(name, param, raw)]
    for name, param in params.items():
        if param["paramType"] == "query" and param.get("required") and name not in request.query:
            problems.append(f"{where}: required {name} missing")
    if request.status >= 400 and request.status not in real.error_codes():
        problems.append(f"{where}: answered {request.status}, which Asterisk does not document for {real.nickname}")
    return problems


def test_every_call_the_adapter_made_is_asterisks(run: Run, asterisk: Asterisk) -> None:
    calls = [r for r in run.requests if not r.path.startswith("/ari/api-docs/")]
    made = {r.nickname for r in calls}
    problems = [problem for request in calls for problem in request_problems(request, asterisk)]

    assert problems == []
    assert {r.auth for r in run.requests} == {"basic"}
    assert made >= {
        "getInfo",
        "originate",
        "create",
        "dial",
        "answer",
        "playWithId",
        "hangup",
        "get",
        "addChannel",
        "destroy",
        "stop",
        "getStoredFile",
        "deleteStored",
        "eventWebsocket",
    }


# (b) events ------------------------------------------------------------------------------------

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$")


def shape_problems(value: Any, kind: str, asterisk: Asterisk, where: str) -> list[str]:
    listed = re.fullmatch(r"List\[(.+)\]", kind)
    if listed:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [
            p for i, item in enumerate(value) for p in shape_problems(item, listed.group(1), asterisk, f"{where}[{i}]")
        ]
    simple = {
        "string": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "Date": lambda v: isinstance(v, str) and DATE.match(v) is not None,
    }
    if kind in simple:
        return [] if simple[kind](value) else [f"{where}: {value!r} is not a {kind}"]
    model = asterisk.models.get(kind)
    if model is None:
        return [f"{where}: Asterisk has no model {kind}"]
    return model_problems(value, [model], asterisk, where)


def model_problems(value: Any, models: list[dict[str, Any]], asterisk: Asterisk, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    properties = {name: prop for model in models for name, prop in model["properties"].items()}
    problems = [f"{where}.{name}: not in {models[-1]['id']}" for name in value if name not in properties]
    for name, prop in properties.items():
        if name not in value:
            if prop.get("required"):
                problems.append(f"{where}.{name}: required, missing")
            continue
        problems += shape_problems(value[name], prop["type"], asterisk, f"{where}.{name}")
        allowed = prop.get("allowableValues")
        if allowed and allowed.get("valueType") == "LIST" and value[name] not in allowed["values"]:
            problems.append(f"{where}.{name}: {value[name]!r} not in {allowed['values']}")
    return problems


def event_problems(event: dict[str, Any], asterisk: Asterisk, where: str) -> list[str]:
    """How one emitted event differs from its model in events.json (nothing: it matches)."""
    model = asterisk.models.get(event.get("type", ""))
    if model is None or model["id"] not in asterisk.models["Event"]["subTypes"]:
        return [f"{where}: not an event type of Asterisk's"]
    chain = [asterisk.models["Message"], asterisk.models["Event"], model]
    return model_problems(event, chain, asterisk, where)


def test_every_event_the_simulator_emitted_matches_its_model(run: Run, asterisk: Asterisk) -> None:
    problems = []
    for index, event in enumerate(run.events):
        problems += event_problems(event, asterisk, f"event {index} ({event.get('type')})")

    assert problems == []


def test_the_run_emitted_every_event_type_the_simulator_claims(run: Run) -> None:
    assert {event["type"] for event in run.events} == set(ari_description.EVENT_TYPES)


# (c) the description the simulator serves ------------------------------------------------------


def test_the_served_description_agrees_with_asterisks(run: Run, asterisk: Asterisk) -> None:
    listing = run.served["resources.json"]
    real_paths = {api["path"] for api in asterisk.listing["apis"]}
    problems = [
        f"resources.json: {api['path']} is not Asterisk's" for api in listing["apis"] if api["path"] not in real_paths
    ]
    if listing["swaggerVersion"] != asterisk.listing["swaggerVersion"]:
        problems.append("resources.json: another swaggerVersion")
    for resource in ari_description.RESOURCES:
        declaration = run.served[f"{resource}.json"]
        if not declaration["basePath"].endswith("/ari"):
            problems.append(f"{resource}.json: basePath {declaration['basePath']}")
        for api in declaration["apis"]:
            for op in api["operations"]:
                problems += operation_problems(resource, api["path"], op, asterisk)
        for name, model in declaration["models"].items():
            problems += served_model_problems(name, model, asterisk)

    assert problems == []


def served_model_problems(name: str, ours: dict[str, Any], asterisk: Asterisk) -> list[str]:
    real = asterisk.models.get(name)
    if real is None:
        return [f"model {name}: not Asterisk's"]
    problems = []
    for prop, spec in ours["properties"].items():
        theirs = real["properties"].get(prop)
        if theirs is None:
            problems.append(f"{name}.{prop}: not in Asterisk's model")
            continue
        if spec["type"] != theirs["type"] or bool(spec.get("required")) != bool(theirs.get("required")):
            problems.append(
                f"{name}.{prop}: {spec['type']}/{spec.get('required')} vs {theirs['type']}/{theirs.get('required')}"
            )
        if spec.get("allowableValues") != theirs.get("allowableValues"):
            problems.append(f"{name}.{prop}: allowableValues differ")
    missing = [p for p, spec in real["properties"].items() if spec.get("required") and p not in ours["properties"]]
    if missing:
        problems.append(f"{name}: required properties missing: {missing}")
    if not set(ours.get("subTypes", [])) <= set(real.get("subTypes", [])):
        problems.append(f"{name}: subTypes Asterisk does not have")
    return problems
