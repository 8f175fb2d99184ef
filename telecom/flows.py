"""The call-flow language: ``{"steps": [STEP, …]}``, each STEP one verb (CONTRACT.md, Telecom).

``validate(definition)`` answers every problem at once as ``FlowError(path, reason)``: a JSON
path like ``$.steps[2].gather.num_digits`` and a reason in plain words. It checks the structure
against ``SCHEMA`` (a JSON Schema, published as is) and then what a schema cannot say: a flow
must have a reachable hangup, nothing may follow a step that always hangs up, a gather's
branch keys must be enterable, and sizes are bounded.

``FlowCursor`` walks a valid definition for the orchestrator. A position is the path to one
step (``["steps", 1, "gather", "branches", "1", 0]``), plain JSON, so it can be kept in a call's
``orchestrator_state`` and resumed after a restart.

How a flow runs: steps in order; a branch's steps run in place of the rest of its step, then
the flow goes on with the step after it, unless a step hung up. When the steps run out, the
call is hung up (normal clearing).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from . import tts

VERBS = ("say", "play", "pause", "hangup", "record", "gather", "dial")
PROMPT_VERBS = ("say", "play", "pause")
BRANCH_LISTS = {"gather": ("default", "no_input"), "dial": ("on_busy", "on_no_answer", "on_failed")}

MAX_STEPS = 200  # in the whole definition
MAX_STEPS_PER_LIST = 100
MAX_DEPTH = 5  # branches within branches
MAX_JSON_DEPTH = 40  # nesting of the JSON itself, checked before anything else
MAX_DEFINITION_BYTES = 64 * 1024
MAX_TEXT = tts.MAX_TEXT_CHARACTERS
MAX_URL = 500
MAX_DIGITS = 20
MAX_BRANCHES = 20
MAX_DIAL_TARGETS = 10

# What a step does when a field is left out (FlowCursor.options applies them).
DEFAULTS: dict[str, dict[str, Any]] = {
    "say": {"language": tts.DEFAULT_LANGUAGE},
    "record": {"beep": True},
    "gather": {"timeout": 5, "finish_on_key": "#"},
    "dial": {"timeout": 30, "record": False},
}

E164 = r"\+[1-9][0-9]{1,14}"
ENDPOINT = r"PJSIP/(?:[A-Za-z0-9_.+-]{1,64}@)?[A-Za-z0-9_.-]{1,64}"
HTTP_URL = r"https?://[^\s/?#@]+(?:[/?#]\S*)?"
SOUND_NAME = r"[A-Za-z0-9_][A-Za-z0-9_/-]{0,199}"
LANGUAGE = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}$"
BRANCH_KEY = rf"^[0-9*#]{{1,{MAX_DIGITS}}}$"
FINISH_KEYS = ["", "#", "*", *"0123456789"]
# Characters that have no business in a flow (a newline is fine in what is said).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _one_verb_of(verbs: Sequence[str]) -> dict[str, Any]:
    # Not oneOf: its errors say little. One property, from a closed list, says exactly what is wrong.
    return {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {verb: {"$ref": f"#/$defs/{verb}"} for verb in verbs},
        "additionalProperties": False,
    }


def _fields(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


SECONDS = {"type": "number", "exclusiveMinimum": 0}
STEPS = {"$ref": "#/$defs/steps"}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://fastsock.dev/schemas/call-flow.json",
    "title": "FastSock call flow",
    **_fields(["steps"], steps=STEPS),
    "$defs": {
        "steps": {"type": "array", "minItems": 1, "maxItems": MAX_STEPS_PER_LIST, "items": {"$ref": "#/$defs/step"}},
        "step": _one_verb_of(VERBS),
        "prompt": _one_verb_of(PROMPT_VERBS),
        "say": _fields(
            ["text"],
            text={"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            language={"type": "string", "pattern": LANGUAGE},
        ),
        "play": _fields(
            ["url"],
            url={
                "type": "string",
                "maxLength": MAX_URL,
                "pattern": rf"^(?:sound:(?:{SOUND_NAME}|{HTTP_URL})|{HTTP_URL})$",
            },
        ),
        "pause": _fields(["seconds"], seconds={**SECONDS, "maximum": 300}),
        "hangup": _fields([]),
        "record": _fields(
            ["max_seconds"],
            max_seconds={"type": "integer", "minimum": 1, "maximum": 3600},
            beep={"type": "boolean"},
        ),
        "gather": _fields(
            ["num_digits"],
            num_digits={"type": "integer", "minimum": 1, "maximum": MAX_DIGITS},
            timeout={**SECONDS, "maximum": 60},
            finish_on_key={"type": "string", "enum": FINISH_KEYS},
            prompt={"$ref": "#/$defs/prompt"},
            branches={
                "type": "object",
                "maxProperties": MAX_BRANCHES,
                "propertyNames": {"pattern": BRANCH_KEY},
                "additionalProperties": {"$ref": "#/$defs/steps"},
            },
            default=STEPS,
            no_input=STEPS,
        ),
        "dial": _fields(
            ["to"],
            to={
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_DIAL_TARGETS,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": rf"^(?:{E164}|{ENDPOINT})$"},
            },
            timeout={"type": "integer", "minimum": 1, "maximum": 600},
            caller_id={"type": "string", "pattern": rf"^{E164}$"},
            record={"type": "boolean"},
            on_busy=STEPS,
            on_no_answer=STEPS,
            on_failed=STEPS,
        ),
    },
}
Draft202012Validator.check_schema(SCHEMA)
_VALIDATOR = Draft202012Validator(SCHEMA)

PathParts = tuple[str | int, ...]


@dataclass(frozen=True)
class FlowError:
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def json_path(parts: Sequence[str | int]) -> str:
    """``("steps", 2, "gather", "branches", "1")`` → ``$.steps[2].gather.branches['1']``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}"
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            text += f"['{escaped}']"
    return text


def validate(definition: Any) -> list[FlowError]:
    """Every problem of a definition (empty: it is valid), structural ones first."""
    too_big = _size_problem(definition)
    if too_big:
        return [too_big]
    problems = _schema_problems(definition)
    if problems:
        return problems
    return _meaning_problems(definition)


def validate_definition(definition: Any) -> list[dict[str, str]]:
    """``validate`` as JSON-ready ``{"path", "reason"}`` objects, for error details."""
    return [problem.as_dict() for problem in validate(definition)]


# --- sizes, before the schema sees anything --------------------------------------------------


def _size_problem(definition: Any) -> FlowError | None:
    if _json_depth(definition) > MAX_JSON_DEPTH:
        return FlowError("$", f"is nested too deeply (at most {MAX_JSON_DEPTH} levels of JSON)")
    try:
        encoded = json.dumps(definition, ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError):
        return FlowError("$", "must be plain JSON (objects, lists, text, numbers, true/false)")
    if len(encoded) > MAX_DEFINITION_BYTES:
        return FlowError("$", f"is too large: {len(encoded)} bytes as JSON, at most {MAX_DEFINITION_BYTES}")
    return None


def _json_depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return deepest


# --- the schema's findings, in plain words ------------------------------------------------------

TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "text (a JSON string)",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}
SECONDS_FIELDS = {"seconds", "timeout", "max_seconds"}
PATTERN_WORDS = {
    "language": "must be a language tag like en, en-us or de",
    "url": "must be a sound: URI like sound:hello-world, or an http(s) URL",
    "to": "must be a number in E.164 form like +14155550123, or an endpoint like PJSIP/alice",
    "caller_id": "must be a number in E.164 form, like +14155550123",
}
STEP_WORDS = "a step is one of: " + ", ".join(VERBS)
PROMPT_WORDS = "a prompt is one say, play or pause step"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def _owner(parts: PathParts) -> str:
    """What an object at ``parts`` is: a verb's fields, or the definition itself."""
    if not parts:
        return "definition"
    return str(parts[-1]) if parts[-1] in VERBS else "object"


def _schema_problems(definition: Any) -> list[FlowError]:
    found: list[FlowError] = []
    for error in _VALIDATOR.iter_errors(definition):
        for problem in _translate(error):
            if problem not in found:
                found.append(problem)
    return sorted(found, key=lambda problem: problem.path)


def _translate(error: Any) -> Iterator[FlowError]:
    """One jsonschema error as problems in plain words: a branch per JSON Schema keyword."""
    parts: PathParts = tuple(error.absolute_path)
    keyword, value, instance, schema = error.validator, error.validator_value, error.instance, error.schema
    field = next((part for part in reversed(parts) if isinstance(part, str)), "")
    verbs = set(schema.get("properties", {})) if isinstance(schema, dict) else set()
    is_step = verbs in (set(VERBS), set(PROMPT_VERBS))

    if keyword == "required":
        for name in value:
            if name not in instance:
                owner = _owner(parts)
                if owner == "definition":
                    yield FlowError(json_path((*parts, name)), 'is missing: a definition is {"steps": [STEP, …]}')
                else:
                    yield FlowError(json_path((*parts, name)), f"is missing: {owner} needs {name}")
    elif keyword == "additionalProperties":
        known = list(schema.get("properties", {}))
        for name in instance:
            if name in known:
                continue
            if is_step:
                words = STEP_WORDS if verbs == set(VERBS) else PROMPT_WORDS
                yield FlowError(json_path((*parts, name)), f"unknown step '{name}': {words}")
            elif _owner(parts) == "definition":
                yield FlowError(json_path((*parts, name)), "unknown field: a definition has only steps")
            elif known:
                owner = _owner(parts)
                yield FlowError(json_path((*parts, name)), f"unknown field: {owner} takes {', '.join(known)}")
            else:
                yield FlowError(json_path((*parts, name)), f"unknown field: {_owner(parts)} takes no fields")
    elif keyword == "minProperties" and is_step:
        yield FlowError(json_path(parts), f"is empty: {STEP_WORDS if verbs == set(VERBS) else PROMPT_WORDS}")
    elif keyword == "maxProperties" and is_step:
        if all(name in verbs for name in instance):
            yield FlowError(
                json_path(parts), f"has {len(instance)} verbs ({', '.join(instance)}): a step has exactly one"
            )
    elif keyword == "maxProperties":
        yield FlowError(json_path(parts), f"has {len(instance)} branches, at most {value}")
    elif keyword == "type":
        wanted = TYPE_WORDS.get(value, value)
        if not parts:
            yield FlowError("$", 'must be an object like {"steps": [STEP, …]}')
        elif is_step:
            yield FlowError(json_path(parts), f"must be an object with one verb, not {_describe(instance)}")
        else:
            yield FlowError(json_path(parts), f"must be {wanted}, not {_describe(instance)}")
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }[keyword]
        unit = " seconds" if field in SECONDS_FIELDS else ""
        yield FlowError(json_path(parts), f"must be {words} {value}{unit}, not {instance}")
    elif keyword == "minLength":
        yield FlowError(json_path(parts), "must not be empty" if value == 1 else f"must be at least {value} characters")
    elif keyword == "maxLength":
        yield FlowError(json_path(parts), f"is too long: {len(instance)} characters, at most {value}")
    elif keyword == "minItems":
        yield FlowError(
            json_path(parts),
            "must name at least one number or endpoint" if field == "to" else "must have at least 1 step",
        )
    elif keyword == "maxItems":
        what = "numbers or endpoints" if field == "to" else "steps in one list"
        yield FlowError(json_path(parts), f"has {len(instance)} {what}, at most {value}")
    elif keyword == "uniqueItems":
        yield FlowError(json_path(parts), "names the same number or endpoint twice")
    elif keyword == "pattern" and "propertyNames" in error.schema_path:
        yield FlowError(
            json_path((*parts, instance)),
            f"is not a branch key: the digits to press, like '1' or '42' (1 to {MAX_DIGITS} of 0-9, * and #)",
        )
    elif keyword == "pattern":
        name = "to" if parts and isinstance(parts[-1], int) else field
        yield FlowError(json_path(parts), PATTERN_WORDS.get(name, f"does not match {value}"))
    elif keyword == "enum" and field == "finish_on_key":
        yield FlowError(json_path(parts), "must be one key (0-9, # or *), or empty for none")
    else:
        yield FlowError(json_path(parts), error.message)


# --- what the schema cannot say ---------------------------------------------------------------------


class _Meaning:
    """One pass over a structurally valid definition."""

    def __init__(self) -> None:
        self.problems: list[FlowError] = []
        self.steps = 0
        self.hangup_reachable = False

    def add(self, parts: PathParts, reason: str) -> None:
        self.problems.append(FlowError(json_path(parts), reason))

    def steps_list(self, steps: list[dict[str, Any]], parts: PathParts, depth: int) -> bool:
        """Check a list of steps; return whether running it always ends in a hangup."""
        if depth > MAX_DEPTH:
            self.add(parts, f"is nested too deeply: branches go at most {MAX_DEPTH} levels deep")
            return False
        for index, step in enumerate(steps):
            self.steps += 1
            if self.step(step, (*parts, index), depth):
                rest = len(steps) - index - 1
                if rest:
                    self.add(
                        (*parts, index + 1),
                        f"is unreachable: the step before always hangs up (remove this and the {rest - 1} after it)"
                        if rest > 1
                        else "is unreachable: the step before always hangs up",
                    )
                return True
        return False

    def step(self, step: dict[str, Any], parts: PathParts, depth: int) -> bool:
        verb, args = next(iter(step.items()))
        here = (*parts, verb)
        if verb in PROMPT_VERBS:
            self.media(verb, args, here)
        elif verb == "hangup":
            self.hangup_reachable = True
            return True
        elif verb == "gather":
            return self.gather(args, here, depth)
        elif verb == "dial":
            for name in BRANCH_LISTS["dial"]:
                if name in args:
                    self.steps_list(args[name], (*here, name), depth + 1)
            # An answered call goes on with the next step: a dial never always hangs up.
        return False

    def gather(self, args: dict[str, Any], here: PathParts, depth: int) -> bool:
        if "prompt" in args:
            verb, prompt_args = next(iter(args["prompt"].items()))
            self.media(verb, prompt_args, (*here, "prompt", verb))
        finish = args.get("finish_on_key", DEFAULTS["gather"]["finish_on_key"])
        ends = [self.steps_list(steps, (*here, "branches", key), depth + 1) for key, steps in _branches(args)]
        for key in args.get("branches", {}):
            if len(key) > args["num_digits"]:
                self.add(
                    (*here, "branches", key),
                    f"has {len(key)} digits but num_digits is {args['num_digits']}: it can never be chosen",
                )
            elif finish and finish in key:
                self.add(
                    (*here, "branches", key),
                    f"contains '{finish}', the finish_on_key that ends the input: it can never be chosen",
                )
        for name in BRANCH_LISTS["gather"]:
            ends.append(self.steps_list(args[name], (*here, name), depth + 1) if name in args else False)
        return all(ends)

    def media(self, verb: str, args: dict[str, Any], here: PathParts) -> None:
        if verb == "say":
            if CONTROL_IN_TEXT.search(args["text"]):
                self.add((*here, "text"), "must not contain control characters")
            elif not args["text"].strip():
                self.add((*here, "text"), "must not be blank")
            if "language" in args and tts.language_known(args["language"]) is False:
                self.add((*here, "language"), "has no voice: the text-to-speech engine does not speak it")
        elif verb == "play":
            host = urlsplit(args["url"].removeprefix("sound:")).hostname if "://" in args["url"] else None
            if host and _is_internal(host):
                self.add((*here, "url"), "must not point at a loopback, private or link-local address")


def _branches(args: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    return list(args.get("branches", {}).items())


def _is_internal(host: str) -> bool:
    """Whether a URL's host is, literally, an address inside a network (or localhost).

    Asterisk fetches these URLs from inside the network. Names are not resolved here (that
    belongs to the network's egress rules), but addresses written out are refused, including
    the legacy forms curl still takes (``2130706433``, ``0x7f.1``, ``127.1``).
    """
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not re.fullmatch(r"[0-9a-fA-FxX.]+", host):
            return False
        try:
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return False
    return not address.is_global


def _control_characters(value: Any, parts: PathParts, found: list[FlowError]) -> None:
    # JSON Schema's `$` also matches before a final newline, so strings are checked here.
    if isinstance(value, dict):
        for key, child in value.items():
            if CONTROL.search(key):
                found.append(FlowError(json_path(parts), "has a key with control characters"))
            _control_characters(child, (*parts, key), found)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _control_characters(child, (*parts, index), found)
    elif isinstance(value, str) and parts[-1:] != ("text",) and CONTROL.search(value):
        found.append(FlowError(json_path(parts), "must not contain control characters"))


def _meaning_problems(definition: dict[str, Any]) -> list[FlowError]:
    found: list[FlowError] = []
    _control_characters(definition, (), found)
    if found:
        return found
    meaning = _Meaning()
    meaning.steps_list(definition["steps"], ("steps",), 0)
    if meaning.steps > MAX_STEPS:
        meaning.add((), f"has {meaning.steps} steps, at most {MAX_STEPS} in all")
    if not meaning.hangup_reachable:
        meaning.add(("steps",), 'has no reachable hangup: add {"hangup": {}} where the call should end')
    return meaning.problems


# --- walking a valid definition -----------------------------------------------------------------


class FlowPathError(ValueError):
    """A saved position does not name a step of this definition."""


@dataclass(frozen=True)
class FlowCursor:
    """A position in a valid definition: the path to one step.

    ``FlowCursor.start(d)`` is the first step; ``cursor.state()`` is the position as a JSON list
    and ``FlowCursor.resume(d, state)`` finds it again. When a step is done, ``next()`` is the
    step after it (climbing out of finished branches); ``after_gather(digits)`` and
    ``after_dial(outcome)`` go into the branch the result chose, or on. ``None``: the flow has
    run out and the call is hung up.
    """

    definition: Mapping[str, Any]
    path: PathParts

    @classmethod
    def start(cls, definition: Mapping[str, Any]) -> FlowCursor | None:
        return cls(definition, ("steps", 0)) if definition.get("steps") else None

    @classmethod
    def resume(cls, definition: Mapping[str, Any], state: Sequence[Any]) -> FlowCursor:
        """The cursor ``state()`` gave; ``FlowPathError`` if it names no step of ``definition``."""
        parts = tuple(state) if isinstance(state, list | tuple) else ()
        if len(parts) < 2 or parts[0] != "steps" or not all(isinstance(p, str | int) for p in parts):
            raise FlowPathError(f"Not a step position: {state!r}.")
        cursor = cls(definition, parts)
        try:
            step = cursor.step
        except (KeyError, IndexError, TypeError):
            raise FlowPathError(f"No step at {json_path(parts)}.") from None
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in VERBS:
            raise FlowPathError(f"No step at {json_path(parts)}.")
        return cursor

    def state(self) -> list[str | int]:
        return list(self.path)

    @property
    def json_path(self) -> str:
        return json_path(self.path)

    @property
    def step(self) -> dict[str, Any]:
        node: Any = self.definition
        for part in self.path:
            if isinstance(part, int) and (not isinstance(node, list) or part < 0):
                raise IndexError(part)
            node = node[part]
        return node

    @property
    def verb(self) -> str:
        return next(iter(self.step))

    def options(self) -> dict[str, Any]:
        """The step's fields with the defaults filled in."""
        return {**DEFAULTS.get(self.verb, {}), **self.step[self.verb]}

    def next(self) -> FlowCursor | None:
        """The step that runs after this one when it took no branch."""
        *list_path, index = self.path
        siblings = FlowCursor(self.definition, tuple(list_path)).step
        if index + 1 < len(siblings):
            return FlowCursor(self.definition, (*list_path, index + 1))
        if tuple(list_path) == ("steps",):
            return None
        # A branch is done: on with the step after the gather or dial that owns it.
        owner = list_path[:-3] if list_path[-2] == "branches" else list_path[:-2]
        return FlowCursor(self.definition, tuple(owner)).next()

    def enter(self, *branch: str) -> FlowCursor | None:
        """The first step of one of this step's branches (``"no_input"``, ``"branches", "1"``…),
        or ``next()`` when the step has no such branch."""
        node: Any = self.step[self.verb]
        for part in branch:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, list) and node:
            return FlowCursor(self.definition, (*self.path, self.verb, *branch, 0))
        return self.next()

    def after_gather(self, digits: str | None) -> FlowCursor | None:
        """Where a gather goes with what was entered (``None`` or ``""``: nothing, in time)."""
        args = self.step["gather"]
        if not digits:
            return self.enter("no_input")
        if digits in args.get("branches", {}):
            return self.enter("branches", digits)
        return self.enter("default")

    def after_dial(self, outcome: str) -> FlowCursor | None:
        """Where a dial goes: ``completed`` (answered, then over) goes on; ``busy``,
        ``no-answer`` and ``failed`` (also ``canceled``, congestion…) take their branch."""
        if outcome == "completed":
            return self.next()
        branch = {"busy": "on_busy", "no-answer": "on_no_answer"}.get(outcome, "on_failed")
        return self.enter(branch)


def iter_steps(steps: Sequence[dict[str, Any]], parts: PathParts = ("steps",)) -> Iterator[tuple[PathParts, str]]:
    """Every step of a valid definition's list, depth first: ``(path, verb)``."""
    for index, step in enumerate(steps):
        here = (*parts, index)
        verb = next(iter(step))
        yield here, verb
        args = step[verb]
        if verb == "gather":
            for key, branch in args.get("branches", {}).items():
                yield from iter_steps(branch, (*here, verb, "branches", key))
        for name in BRANCH_LISTS.get(verb, ()):
            if name in args:
                yield from iter_steps(args[name], (*here, verb, name))
