"""A stand-in for Jasmin's HTTP API, for tests that need a gateway answering over real HTTP."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class JasminStandIn:
    """Takes ``POST /send`` as Jasmin does from FastSock (a form body) and answers ``answer``
    (``{n}``: how many it has taken); ``GET /ping`` answers ``Jasmin/PONG``; the rest 404."""

    def __init__(self, answer: tuple[int, str] = (200, 'Success "{n}"')) -> None:
        self.answer = answer
        self.sent: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = urlsplit(self.path).path == "/ping"
                self.reply(200 if found else 404, "Jasmin/PONG" if found else "Not found")

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/send":
                    self.reply(404, "Not found")
                    return
                form = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                owner.sent.append({k: v[-1] for k, v in parse_qs(form).items()})
                status, body = owner.answer
                self.reply(status, body.format(n=len(owner.sent)))

            def reply(self, status: int, body: str) -> None:
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
