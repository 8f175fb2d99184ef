"""A client resumes with ?since= across a server restart: nothing missing, nothing twice, in order."""

from __future__ import annotations

import json
import urllib.request

import pytest
from websockets.sync.client import connect

from fastsock.core.testing import stop_process
from tests.servers import daphne_server, serve_again
from tests.test_two_processes import PASSWORD, next_event, post

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def patch(base: str, path: str, body: dict, token: str) -> dict:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method="PATCH")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_client_resumes_after_the_server_restarted(tmp_path):
    with daphne_server(tmp_path) as first:
        base = first.base_url
        erin = post(base, "/api/v1/auth/register", {"username": "erin", "password": PASSWORD})
        frank = post(base, "/api/v1/auth/register", {"username": "frank", "password": PASSWORD})
        erin_token = post(base, "/api/v1/auth/token", {"username": "erin", "password": PASSWORD})["access"]
        frank_token = post(base, "/api/v1/auth/token", {"username": "frank", "password": PASSWORD})["access"]
        room = post(base, "/api/v1/rooms", {"name": "Restart", "member_ids": [frank["id"]]}, erin_token)
        with connect(f"{first.ws_url}/ws/?token={frank_token}&since=0") as frank_ws:
            next_event(frank_ws, "room.created")
            last_seq = next_event(frank_ws, "message.new")["seq"]  # "Erin created the group"
        # While Frank is away: messages, an edit, a reaction, and Erin reads.
        sent = [post(base, f"/api/v1/rooms/{room['id']}/messages", {"content": f"m{n}"}, erin_token) for n in range(3)]
        patch(base, f"/api/v1/messages/{sent[0]['id']}", {"content": "m0 (edited)"}, erin_token)
        post(base, f"/api/v1/messages/{sent[1]['id']}/reactions", {"emoji": "👍"}, erin_token)
        post(base, f"/api/v1/rooms/{room['id']}/read", {"message_id": sent[2]["id"]}, erin_token)
        stop_process(first.process)
        assert first.process.poll() is not None

        with serve_again(first) as second:
            frames = []
            with connect(f"{second.ws_url}/ws/?token={frank_token}&since={last_seq}") as frank_ws:
                while not frames or frames[-1]["event"] != "message.read":
                    frame = json.loads(frank_ws.recv(timeout=10))
                    if "seq" in frame:
                        frames.append(frame)
                # Then live ones, after the replay, with the next seq.
                post(second.base_url, f"/api/v1/rooms/{room['id']}/messages", {"content": "live"}, erin_token)
                live = next_event(frank_ws, "message.new")

    seqs = [frame["seq"] for frame in frames]
    assert seqs == list(range(last_seq + 1, last_seq + 1 + len(frames))), "in order, none missing, none twice"
    events = [frame["event"] for frame in frames]
    assert events.count("message.new") == 3
    assert events.count("unread") == 3
    assert "message.updated" in events
    assert "message.reaction" in events
    assert frames[-1]["data"] == {"room_id": room["id"], "user_id": erin["id"], "message_id": sent[2]["id"]}
    unread = [frame["data"]["unread_count"] for frame in frames if frame["event"] == "unread"]
    assert unread == [1, 2, 3]
    assert live["seq"] > seqs[-1]
    assert live["data"]["message"]["content"] == "live"
