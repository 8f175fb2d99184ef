"""The call-flow language: what is accepted, what is refused (with its exact path and reason),
and how a cursor walks a flow and resumes from a saved position."""

from __future__ import annotations

import json

import pytest

from telecom import flows, tts
from telecom.flows import FlowCursor, FlowPathError, validate

H = {"hangup": {}}


def problems(definition) -> list[tuple[str, str]]:
    return [(problem.path, problem.reason) for problem in validate(definition)]


def flow(*steps) -> dict:
    return {"steps": [*steps, H]}


EVERY_VERB = {
    "steps": [
        {"say": {"text": "Welcome to the shop.", "language": "en-US"}},
        {"play": {"url": "sound:tt-monkeys"}},
        {"play": {"url": "https://example.com/jingle.wav"}},
        {"play": {"url": "sound:https://example.com/jingle.wav"}},
        {"pause": {"seconds": 1.5}},
        {"record": {"max_seconds": 60, "beep": False}},
        {
            "gather": {
                "num_digits": 2,
                "timeout": 8,
                "finish_on_key": "*",
                "prompt": {"say": {"text": "Press 1 for sales, 42 for support."}},
                "branches": {"1": [{"say": {"text": "Sales."}}], "42": [{"say": {"text": "Support."}}], "#": [H]},
                "default": [{"say": {"text": "Sorry."}}],
                "no_input": [{"say": {"text": "Nothing?"}}],
            }
        },
        {
            "dial": {
                "to": ["+14155550123", "PJSIP/alice", "PJSIP/+14155550124@trunk-1"],
                "timeout": 20,
                "caller_id": "+14155550100",
                "record": True,
                "on_busy": [{"say": {"text": "Busy."}}],
                "on_no_answer": [{"say": {"text": "No answer."}}],
                "on_failed": [{"say": {"text": "Failed."}}],
            }
        },
        {"hangup": {}},
    ]
}


def test_a_flow_using_every_verb_and_field_is_valid():
    assert problems(EVERY_VERB) == []


def test_the_published_schema_is_a_valid_json_schema():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(flows.SCHEMA)
    assert set(flows.SCHEMA["$defs"]["step"]["properties"]) == set(flows.VERBS)


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        # The definition itself.
        ([1], [("$", 'must be an object like {"steps": [STEP, …]}')]),
        ({}, [("$.steps", 'is missing: a definition is {"steps": [STEP, …]}')]),
        ({"steps": "say hi"}, [("$.steps", "must be a list, not text")]),
        ({"steps": []}, [("$.steps", "must have at least 1 step")]),
        ({"steps": [H], "name": "x"}, [("$.name", "unknown field: a definition has only steps")]),
        # Steps: exactly one known verb.
        (flow({"speak": {"text": "hi"}}), [("$.steps[0].speak", "unknown step 'speak': " + flows.STEP_WORDS)]),
        (flow({}), [("$.steps[0]", "is empty: " + flows.STEP_WORDS)]),
        (
            flow({"say": {"text": "a"}, "play": {"url": "sound:beep"}}),
            [("$.steps[0]", "has 2 verbs (say, play): a step has exactly one")],
        ),
        (flow("hangup"), [("$.steps[0]", "must be an object with one verb, not text")]),
        # say
        (flow({"say": {}}), [("$.steps[0].say.text", "is missing: say needs text")]),
        (flow({"say": {"text": ""}}), [("$.steps[0].say.text", "must not be empty")]),
        (flow({"say": {"text": "   "}}), [("$.steps[0].say.text", "must not be blank")]),
        (flow({"say": {"text": "x" * 1001}}), [("$.steps[0].say.text", "is too long: 1001 characters, at most 1000")]),
        (flow({"say": {"text": 5}}), [("$.steps[0].say.text", "must be text (a JSON string), not 5")]),
        (flow({"say": {"text": "a\x07b"}}), [("$.steps[0].say.text", "must not contain control characters")]),
        (
            flow({"say": {"text": "hi", "voice": "x"}}),
            [("$.steps[0].say.voice", "unknown field: say takes text, language")],
        ),
        (
            flow({"say": {"text": "hi", "language": "english please"}}),
            [("$.steps[0].say.language", "must be a language tag like en, en-us or de")],
        ),
        # play
        (flow({"play": {}}), [("$.steps[0].play.url", "is missing: play needs url")]),
        (
            flow({"play": {"url": "ftp://example.com/a.wav"}}),
            [("$.steps[0].play.url", "must be a sound: URI like sound:hello-world, or an http(s) URL")],
        ),
        (
            flow({"play": {"url": "sound:../../etc/passwd"}}),
            [("$.steps[0].play.url", "must be a sound: URI like sound:hello-world, or an http(s) URL")],
        ),
        (
            flow({"play": {"url": "https://" + "a" * 500 + ".com/x.wav"}}),
            [("$.steps[0].play.url", "is too long: 518 characters, at most 500")],
        ),
        (
            flow({"play": {"url": "http://127.0.0.1:8088/x.wav"}}),
            [("$.steps[0].play.url", "must not point at a loopback, private or link-local address")],
        ),
        (
            flow({"play": {"url": "sound:http://169.254.169.254/latest/meta-data"}}),
            [("$.steps[0].play.url", "must not point at a loopback, private or link-local address")],
        ),
        # pause
        (flow({"pause": {}}), [("$.steps[0].pause.seconds", "is missing: pause needs seconds")]),
        (flow({"pause": {"seconds": 0}}), [("$.steps[0].pause.seconds", "must be more than 0 seconds, not 0")]),
        (flow({"pause": {"seconds": 301}}), [("$.steps[0].pause.seconds", "must be at most 300 seconds, not 301")]),
        (flow({"pause": {"seconds": True}}), [("$.steps[0].pause.seconds", "must be a number, not true/false")]),
        # hangup
        (
            {"steps": [{"hangup": {"reason": "busy"}}]},
            [("$.steps[0].hangup.reason", "unknown field: hangup takes no fields")],
        ),
        ({"steps": [{"hangup": None}]}, [("$.steps[0].hangup", "must be an object, not null")]),
        # record
        (flow({"record": {}}), [("$.steps[0].record.max_seconds", "is missing: record needs max_seconds")]),
        (
            flow({"record": {"max_seconds": 3601}}),
            [("$.steps[0].record.max_seconds", "must be at most 3600 seconds, not 3601")],
        ),
        (
            flow({"record": {"max_seconds": 5, "beep": "yes"}}),
            [("$.steps[0].record.beep", "must be true or false, not text")],
        ),
        # gather
        (flow({"gather": {}}), [("$.steps[0].gather.num_digits", "is missing: gather needs num_digits")]),
        (flow({"gather": {"num_digits": 0}}), [("$.steps[0].gather.num_digits", "must be at least 1, not 0")]),
        (flow({"gather": {"num_digits": 21}}), [("$.steps[0].gather.num_digits", "must be at most 20, not 21")]),
        (flow({"gather": {"num_digits": 1.5}}), [("$.steps[0].gather.num_digits", "must be a whole number, not 1.5")]),
        (
            flow({"gather": {"num_digits": 1, "timeout": 61}}),
            [("$.steps[0].gather.timeout", "must be at most 60 seconds, not 61")],
        ),
        (
            flow({"gather": {"num_digits": 1, "finish_on_key": "##"}}),
            [("$.steps[0].gather.finish_on_key", "must be one key (0-9, # or *), or empty for none")],
        ),
        (
            flow({"gather": {"num_digits": 1, "prompt": H}}),
            [("$.steps[0].gather.prompt.hangup", "unknown step 'hangup': " + flows.PROMPT_WORDS)],
        ),
        (
            flow({"gather": {"num_digits": 1, "branches": {"x": [H]}}}),
            [
                (
                    "$.steps[0].gather.branches.x",
                    "is not a branch key: the digits to press, like '1' or '42' (1 to 20 of 0-9, * and #)",
                )
            ],
        ),
        (
            flow({"gather": {"num_digits": 1, "branches": {"1": []}}}),
            [("$.steps[0].gather.branches['1']", "must have at least 1 step")],
        ),
        (
            flow({"gather": {"num_digits": 1, "branches": {str(key): [H] for key in range(21)}}}),
            [("$.steps[0].gather.branches", "has 21 branches, at most 20")],
        ),
        (
            flow({"gather": {"num_digits": 1, "branches": {"12": [H]}}}),
            [("$.steps[0].gather.branches['12']", "has 2 digits but num_digits is 1: it can never be chosen")],
        ),
        (
            flow({"gather": {"num_digits": 3, "branches": {"1#": [H]}}}),
            [
                (
                    "$.steps[0].gather.branches['1#']",
                    "contains '#', the finish_on_key that ends the input: it can never be chosen",
                )
            ],
        ),
        (
            flow({"gather": {"num_digits": 1, "branches": {"1\n": [H]}}}),
            [("$.steps[0].gather.branches", "has a key with control characters")],
        ),
        (
            flow({"gather": {"num_digits": 1, "no_input": [{"say": {"text": "x", "speed": 2}}]}}),
            [("$.steps[0].gather.no_input[0].say.speed", "unknown field: say takes text, language")],
        ),
        # dial
        (flow({"dial": {}}), [("$.steps[0].dial.to", "is missing: dial needs to")]),
        (flow({"dial": {"to": []}}), [("$.steps[0].dial.to", "must name at least one number or endpoint")]),
        (
            flow({"dial": {"to": ["+14155550123", "+14155550123"]}}),
            [("$.steps[0].dial.to", "names the same number or endpoint twice")],
        ),
        (
            flow({"dial": {"to": ["0155 555", "Local/s@default"]}}),
            [
                ("$.steps[0].dial.to[0]", flows.PATTERN_WORDS["to"]),
                ("$.steps[0].dial.to[1]", flows.PATTERN_WORDS["to"]),
            ],
        ),
        (
            flow({"dial": {"to": [f"+1415555{n:04d}" for n in range(11)]}}),
            [("$.steps[0].dial.to", "has 11 numbers or endpoints, at most 10")],
        ),
        (
            flow({"dial": {"to": ["+14155550123"], "timeout": 601}}),
            [("$.steps[0].dial.timeout", "must be at most 600 seconds, not 601")],
        ),
        (
            flow({"dial": {"to": ["+14155550123"], "caller_id": "Alice"}}),
            [("$.steps[0].dial.caller_id", "must be a number in E.164 form, like +14155550123")],
        ),
        (
            flow({"dial": {"to": ["+14155550123"], "caller_id": "+14155550100\n"}}),
            [("$.steps[0].dial.caller_id", "must not contain control characters")],
        ),
        (
            flow({"dial": {"to": ["+14155550123"], "on_answer": [H]}}),
            [
                (
                    "$.steps[0].dial.on_answer",
                    "unknown field: dial takes to, timeout, caller_id, record, on_busy, on_no_answer, on_failed",
                )
            ],
        ),
    ],
)
def test_each_problem_is_reported_at_its_path_in_plain_words(definition, expected):
    assert problems(definition) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/a.wav",
        "http://[::1]:8088/a.wav",
        "http://2130706433/a.wav",
        "http://0x7f.1/a.wav",
        "https://10.1.2.3/a.wav",
        "http://100.64.0.1/a.wav",
    ],
)
def test_play_urls_may_not_name_an_address_inside_the_network(url):
    assert problems(flow({"play": {"url": url}})) == [
        ("$.steps[0].play.url", "must not point at a loopback, private or link-local address")
    ]
    assert problems(flow({"play": {"url": "https://media.example.com/a.wav"}})) == []


def test_every_problem_is_reported_at_once_in_path_order():
    definition = {"steps": [{"say": {}}, {"pause": {"seconds": -1}}, {"dial": {"to": "x"}}, H]}
    assert problems(definition) == [
        ("$.steps[0].say.text", "is missing: say needs text"),
        ("$.steps[1].pause.seconds", "must be more than 0 seconds, not -1"),
        ("$.steps[2].dial.to", "must be a list, not text"),
    ]


def test_a_flow_without_a_reachable_hangup_is_refused():
    assert problems({"steps": [{"say": {"text": "Bye."}}]}) == [
        ("$.steps", 'has no reachable hangup: add {"hangup": {}} where the call should end')
    ]


def test_a_hangup_inside_a_branch_is_a_reachable_hangup():
    definition = {"steps": [{"gather": {"num_digits": 1, "no_input": [H]}}, {"say": {"text": "Go on."}}]}
    assert problems(definition) == []


def test_steps_after_a_hangup_in_the_same_list_are_unreachable():
    assert problems({"steps": [H, {"say": {"text": "a"}}, {"say": {"text": "b"}}]}) == [
        ("$.steps[1]", "is unreachable: the step before always hangs up (remove this and the 1 after it)")
    ]
    branch = {"steps": [{"gather": {"num_digits": 1, "default": [H, {"pause": {"seconds": 1}}]}}, H]}
    assert problems(branch) == [("$.steps[0].gather.default[1]", "is unreachable: the step before always hangs up")]


def test_steps_after_a_gather_whose_every_outcome_hangs_up_are_unreachable():
    gather = {"gather": {"num_digits": 1, "branches": {"1": [H]}, "default": [H], "no_input": [H]}}
    assert problems({"steps": [gather, {"say": {"text": "never"}}]}) == [
        ("$.steps[1]", "is unreachable: the step before always hangs up")
    ]
    # Without a default, other digits go on: what follows is reachable.
    del gather["gather"]["default"]
    assert problems({"steps": [gather, {"say": {"text": "sometimes"}}]}) == []


def test_a_dial_never_always_hangs_up_since_an_answered_call_goes_on():
    dial = {"dial": {"to": ["+14155550123"], "on_busy": [H], "on_no_answer": [H], "on_failed": [H]}}
    assert problems({"steps": [dial, {"say": {"text": "Thanks for calling."}}, H]}) == []


def test_an_empty_finish_on_key_lets_branches_use_the_pound_key():
    assert problems(flow({"gather": {"num_digits": 2, "finish_on_key": "", "branches": {"1#": [H]}}})) == []


def test_branches_nest_at_most_five_deep():
    def nested(levels: int) -> dict:
        steps: list = [H]
        for _ in range(levels):
            steps = [{"gather": {"num_digits": 1, "branches": {"1": steps}}}]
        return {"steps": [*steps, H]}

    assert problems(nested(5)) == []
    deep = problems(nested(6))
    assert len(deep) == 1
    assert deep[0][0] == "$.steps[0]" + ".gather.branches['1'][0]" * 5 + ".gather.branches['1']"
    assert deep[0][1] == "is nested too deeply: branches go at most 5 levels deep"


def test_sizes_are_bounded():
    assert problems({"steps": [{"pause": {"seconds": 1}}] * 101 + [H]}) == [
        ("$.steps", "has 102 steps in one list, at most 100")
    ]
    many = {"steps": [{"gather": {"num_digits": 1, "default": [{"pause": {"seconds": 1}}] * 99 + [H]}}] * 3 + [H]}
    assert problems(many) == [("$", "has 304 steps, at most 200 in all")]
    large = {"steps": [{"say": {"text": "x" * 999}}] * 70 + [H]}
    size = len(json.dumps(large, ensure_ascii=False).encode())
    assert problems(large) == [("$", f"is too large: {size} bytes as JSON, at most 65536")]


def test_absurdly_nested_or_non_json_input_is_refused_without_crashing():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert problems({"steps": deep}) == [("$", "is nested too deeply (at most 40 levels of JSON)")]
    assert problems({"steps": [{"pause": {"seconds": float("nan")}}, H]}) == [
        ("$", "must be plain JSON (objects, lists, text, numbers, true/false)")
    ]


def test_error_paths_quote_keys_that_are_not_plain_names():
    assert flows.json_path(("steps", 0, "gather", "branches", "*1", 2)) == "$.steps[0].gather.branches['*1'][2]"
    assert flows.json_path(("a'b",)) == "$['a\\'b']"


@pytest.mark.system
def test_a_language_the_speech_engine_does_not_speak_is_refused():
    if not tts.available():
        from fastsock.core.testing import skip_or_fail, system_parts_required

        skip_or_fail("needs espeak-ng (apt-get install espeak-ng)", required=system_parts_required())
    assert problems(flow({"say": {"text": "Hallo", "language": "de-AT"}})) == []
    assert problems(flow({"say": {"text": "hi", "language": "xx"}})) == [
        ("$.steps[0].say.language", "has no voice: the text-to-speech engine does not speak it")
    ]


def test_validate_definition_gives_json_ready_problems():
    assert flows.validate_definition({"steps": []}) == [{"path": "$.steps", "reason": "must have at least 1 step"}]


# --- the cursor ---------------------------------------------------------------------------------

MENU = {
    "steps": [
        {"say": {"text": "Hello."}},
        {
            "gather": {
                "num_digits": 1,
                "branches": {
                    "1": [
                        {"say": {"text": "Connecting."}},
                        {"dial": {"to": ["+14155550123"], "on_busy": [{"say": {"text": "Busy."}}]}},
                    ]
                },
                "no_input": [H],
            }
        },
        {"say": {"text": "Goodbye."}},
        H,
    ]
}


def walk(cursor: FlowCursor | None) -> list[str]:
    seen = []
    while cursor is not None:
        seen.append(cursor.json_path)
        cursor = cursor.next()
    return seen


def test_the_cursor_starts_at_the_first_step_with_defaults_filled_in():
    cursor = FlowCursor.start(MENU)
    assert (cursor.state(), cursor.verb, cursor.options()) == (
        ["steps", 0],
        "say",
        {"text": "Hello.", "language": "en-us"},
    )
    assert FlowCursor.start({"steps": []}) is None


def test_next_goes_through_the_steps_in_order_and_then_ends():
    assert walk(FlowCursor.start(MENU)) == ["$.steps[0]", "$.steps[1]", "$.steps[2]", "$.steps[3]"]


def test_a_branch_runs_in_place_of_the_rest_of_its_step_then_the_flow_goes_on():
    gather = FlowCursor.start(MENU).next()
    assert gather.options() == {**MENU["steps"][1]["gather"], "timeout": 5, "finish_on_key": "#"}
    chosen = gather.after_gather("1")
    assert walk(chosen) == [
        "$.steps[1].gather.branches['1'][0]",
        "$.steps[1].gather.branches['1'][1]",
        "$.steps[2]",
        "$.steps[3]",
    ]
    dial = chosen.next()
    assert dial.after_dial("busy").json_path == "$.steps[1].gather.branches['1'][1].dial.on_busy[0]"
    assert dial.after_dial("busy").next().json_path == "$.steps[2]"
    assert dial.after_dial("completed").json_path == "$.steps[2]"
    # No branch for it: the flow goes on.
    assert dial.after_dial("no-answer").json_path == "$.steps[2]"
    assert dial.after_dial("failed").json_path == "$.steps[2]"


def test_a_gather_goes_by_what_was_entered():
    gather = FlowCursor.start(MENU).next()
    assert gather.after_gather("").json_path == "$.steps[1].gather.no_input[0]"
    assert gather.after_gather(None).json_path == "$.steps[1].gather.no_input[0]"
    assert gather.after_gather("9").json_path == "$.steps[2]"  # no default: on with the flow
    with_default = FlowCursor.start({"steps": [{"gather": {"num_digits": 1, "default": [H]}}, H]})
    assert with_default.after_gather("9").json_path == "$.steps[0].gather.default[0]"


def test_a_saved_position_is_plain_json_and_resumes_where_it_was():
    inside = FlowCursor.start(MENU).next().after_gather("1").next()
    saved = json.loads(json.dumps(inside.state()))
    assert saved == ["steps", 1, "gather", "branches", "1", 1]
    resumed = FlowCursor.resume(MENU, saved)
    assert (resumed.verb, resumed.next().json_path) == ("dial", "$.steps[2]")


@pytest.mark.parametrize(
    "state",
    [["steps", 9], ["steps"], ["x", 0], "steps", None, ["steps", -1], ["steps", 1, "gather"], ["steps", "0"]],
)
def test_a_position_that_names_no_step_cannot_be_resumed(state):
    with pytest.raises(FlowPathError):
        FlowCursor.resume(MENU, state)


def test_iter_steps_lists_every_step_depth_first():
    assert [(flows.json_path(path), verb) for path, verb in flows.iter_steps(MENU["steps"])] == [
        ("$.steps[0]", "say"),
        ("$.steps[1]", "gather"),
        ("$.steps[1].gather.branches['1'][0]", "say"),
        ("$.steps[1].gather.branches['1'][1]", "dial"),
        ("$.steps[1].gather.branches['1'][1].dial.on_busy[0]", "say"),
        ("$.steps[1].gather.no_input[0]", "hangup"),
        ("$.steps[2]", "say"),
        ("$.steps[3]", "hangup"),
    ]
