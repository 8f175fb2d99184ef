"""A burst of delivery reports against a real Daphne on PostgreSQL: Kannel keeps up to 512
callbacks in flight, far more than a server process has pooled connections. Each must be taken
(200) and applied; a 500 there was a lost report and a message left "sent" for good."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import psycopg
import pytest

from tests.servers import RunningServer, daphne_server
from tests.sms_gateways import own_celery_queue

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET = "burst-webhook-secret-not-secret"
PASSWORD = "Burst-Test-Passw0rd"
SENDER = "+14155550100"
MESSAGES = 100
IN_FLIGHT = 200  # both reports of every message at once
RECEIPT = "id:1 sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000 text:x"


def call(server: RunningServer, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    address = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, payload, {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def api_key(server: RunningServer) -> str:
    call(server, "POST", "/api/v1/auth/register", {"username": "burst", "password": PASSWORD})
    _, tokens = call(server, "POST", "/api/v1/auth/token", {"username": "burst", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {json.loads(tokens)['access']}"}
    _, project = call(server, "POST", "/v1/projects", {"name": "Burst"}, bearer)
    project_id = json.loads(project)["id"]
    _, key = call(server, "POST", f"/v1/projects/{project_id}/keys", {"name": "burst"}, bearer)
    server.manage(
        "telecom_connector", "burst", "--kind", "kannel", "--url", "http://127.0.0.1:9",
        "--webhook-secret-env", "BURST_WEBHOOK_SECRET", "--allow", "127.0.0.1/32",
    )  # fmt: skip
    server.manage("telecom_number", SENDER, "--project", str(project_id), "--connector", "burst")
    return json.loads(key)["key"]


def kannel_report(sid: str, kannel_type: int, reply: str) -> str:
    """The dlr-url FastSock signs, with the fields Kannel appends."""
    expires = int(time.time()) + 3600
    signature = hmac.new(SECRET.encode(), f"dlr:burst:{sid}:{expires}".encode(), hashlib.sha256).hexdigest()
    fields = {"sid": sid, "exp": expires, "sig": signature, "kannel_ref": sid}
    return f"/webhooks/sms/burst/dlr?{urlencode({**fields, 'kannel_type': kannel_type, 'kannel_reply': reply})}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Two connections, and a second's wait for one: a burst that queued on the pool would fail
    # within seconds instead of the default ten.
    extra_env = {
        **own_celery_queue(),  # no worker: the messages stay queued, and reports apply all the same
        "BURST_WEBHOOK_SECRET": SECRET,
        "DATABASE_POOL_MAX_SIZE": "2",
        "DATABASE_POOL_TIMEOUT": "1",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_SMS_PROJECT": "100000/m",
        "RATE_LIMIT_SMS_KEY": "100000/m",
    }
    with daphne_server(tmp_path_factory.mktemp("burst"), extra_env=extra_env) as running:
        yield running


def test_a_burst_of_reports_larger_than_the_pool_is_taken_whole_and_applied(server):
    headers = {"Authorization": f"ApiKey {api_key(server)}"}
    sids = []
    for n in range(MESSAGES):
        status, body = call(server, "POST", "/v1/messages", {"to": "+33600000001", "body": f"burst {n}"}, headers)
        assert status == 201, body
        sids.append(json.loads(body)["sid"])
    reports = [kannel_report(sid, 8, "ACK/") for sid in sids] + [kannel_report(sid, 1, RECEIPT) for sid in sids]

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        answers = Counter(status for status, _ in pool.map(lambda path: call(server, "GET", path), reports))

    assert answers == {200: len(reports)}, server.logs()[-3000:]
    with psycopg.connect(server.env["DATABASE_URL"]) as connection:
        statuses = dict(connection.execute("SELECT status, count(*) FROM telecom_smsmessage GROUP BY 1").fetchall())
    assert statuses == {"delivered": MESSAGES}
