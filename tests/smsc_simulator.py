"""A small SMPP 3.4 SMSC for tests, standard library only.

It accepts any bind (transmitter, receiver or transceiver), answers ``submit_sm`` with a fresh
decimal message id and remembers what it was sent. Nothing else happens on its own: a test asks
for each delivery receipt (``deliver_sm`` with esm_class 0x04, the receipt text and the
``receipted_message_id`` / ``message_state`` TLVs) with the final status it wants, in the order
it wants, as often as it wants, and injects inbound messages (MO ``deliver_sm``) the same way.

    with SmscSimulator() as smsc:          # listens on 127.0.0.1, a free port: smsc.port
        ...                                # point a gateway at it, send through the gateway
        sent = smsc.wait_for_submit(lambda m: m.destination == "33600000001")
        smsc.send_receipt(sent, "DELIVRD")
        smsc.inject_mo(source="33600000009", destination="12345", text="hello")

Run it on its own (``python -m tests.smsc_simulator --port 2776 --receipt DELIVRD``) to answer
every submit that asks for a receipt after ``--delay`` seconds.
"""

from __future__ import annotations

import argparse
import itertools
import random
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

# Command ids (SMPP 3.4 §5.1.2.1); a response is the request's id with the top bit set.
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESPONSE = 0x80000000
BINDS = {BIND_RECEIVER: "receiver", BIND_TRANSMITTER: "transmitter", BIND_TRANSCEIVER: "transceiver"}

ESME_ROK = 0x00000000
ESME_RINVCMDID = 0x00000003

# Optional parameter tags (§5.3.2).
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_MESSAGE_STATE = 0x0427
TAG_MESSAGE_PAYLOAD = 0x0424

# message_state values (§5.2.28) of the receipt statuses (Appendix B, Table B-2).
MESSAGE_STATES = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}
ESM_CLASS_RECEIPT = 0x04
ESM_CLASS_UDHI = 0x40
DATA_CODING_DEFAULT = 0x00
DATA_CODING_UCS2 = 0x08

# GSM 03.38, unpacked (one septet per byte), as SMPP carries the SMSC default alphabet.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}  # fmt: skip
assert len(GSM_BASIC) == 128


def gsm_decode(data: bytes) -> str:
    chars, escaped = [], False
    for byte in data:
        if escaped:
            chars.append(GSM_EXTENSION.get(byte, "?"))
            escaped = False
        elif byte == 0x1B:
            escaped = True
        else:
            chars.append(GSM_BASIC[byte & 0x7F])
    return "".join(chars)


def gsm_encode(text: str) -> bytes | None:
    """``text`` in unpacked GSM 03.38, or None when a character is not in the alphabet."""
    by_char = {char: code for code, char in enumerate(GSM_BASIC) if code != 0x1B}
    by_extension = {char: code for code, char in GSM_EXTENSION.items()}
    out = bytearray()
    for char in text:
        if char in by_char:
            out.append(by_char[char])
        elif char in by_extension:
            out += bytes((0x1B, by_extension[char]))
        else:
            return None
    return bytes(out)


def decode_text(data: bytes, data_coding: int) -> str:
    if data_coding == DATA_CODING_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == DATA_CODING_DEFAULT:
        return gsm_decode(data)
    return data.decode("latin-1")


@dataclass(frozen=True)
class SubmittedMessage:
    """One ``submit_sm`` as the SMSC received it."""

    message_id: str
    system_id: str
    source: str
    destination: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    short_message: bytes
    udh: bytes
    text: str
    received_at: datetime

    @property
    def wants_receipt(self) -> bool:
        return bool(self.registered_delivery & 0x01)


@dataclass
class Session:
    """One bound ESME connection."""

    connection: socket.socket
    system_id: str = ""
    mode: str = ""
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    sequence: itertools.count = field(default_factory=lambda: itertools.count(1))
    acknowledged: set[int] = field(default_factory=set)

    @property
    def can_receive(self) -> bool:
        return self.mode in ("receiver", "transceiver")

    def send(self, command_id: int, body: bytes, *, status: int = ESME_ROK, sequence: int | None = None) -> int:
        number = next(self.sequence) if sequence is None else sequence
        pdu = struct.pack(">IIII", 16 + len(body), command_id, status, number) + body
        with self.write_lock:
            self.connection.sendall(pdu)
        return number


def c_string(data: bytes, offset: int) -> tuple[str, int]:
    end = data.index(b"\x00", offset)
    return data[offset:end].decode("latin-1"), end + 1


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


def parse_sm(body: bytes) -> dict[str, object]:
    """The fields of a submit_sm or deliver_sm body (§4.4.1), optional parameters included."""
    fields: dict[str, object] = {}
    offset = 0
    fields["service_type"], offset = c_string(body, offset)
    fields["source_addr_ton"], fields["source_addr_npi"] = body[offset], body[offset + 1]
    fields["source_addr"], offset = c_string(body, offset + 2)
    fields["dest_addr_ton"], fields["dest_addr_npi"] = body[offset], body[offset + 1]
    fields["destination_addr"], offset = c_string(body, offset + 2)
    fields["esm_class"], fields["protocol_id"], fields["priority_flag"] = body[offset : offset + 3]
    fields["schedule_delivery_time"], offset = c_string(body, offset + 3)
    fields["validity_period"], offset = c_string(body, offset)
    (
        fields["registered_delivery"],
        fields["replace_if_present_flag"],
        fields["data_coding"],
        fields["sm_default_msg_id"],
        length,
    ) = body[offset : offset + 5]
    offset += 5
    fields["short_message"] = body[offset : offset + length]
    offset += length
    tlvs: dict[int, bytes] = {}
    while offset + 4 <= len(body):
        tag, size = struct.unpack(">HH", body[offset : offset + 4])
        tlvs[tag] = body[offset + 4 : offset + 4 + size]
        offset += 4 + size
    fields["tlvs"] = tlvs
    return fields


def sm_body(
    *,
    source: str,
    destination: str,
    esm_class: int,
    data_coding: int,
    short_message: bytes,
    tlvs: bytes = b"",
    source_ton: int = 1,
    destination_ton: int = 1,
) -> bytes:
    """A deliver_sm body: the same layout as submit_sm."""
    return (
        b"\x00"  # service_type
        + bytes((source_ton, 1))
        + source.encode("latin-1")
        + b"\x00"
        + bytes((destination_ton, 1))
        + destination.encode("latin-1")
        + b"\x00"
        + bytes((esm_class, 0, 0))  # esm_class, protocol_id, priority_flag
        + b"\x00\x00"  # schedule_delivery_time, validity_period
        + bytes((0, 0, data_coding, 0, len(short_message)))
        + short_message
        + tlvs
    )


def address_ton(address: str) -> int:
    """TON 1 (international) for digits, 5 (alphanumeric) otherwise."""
    return 1 if address.lstrip("+").isdigit() else 5


class SmscSimulator:
    """An SMSC on 127.0.0.1 in a background thread; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auto_receipt: str | None = None,
        receipt_delay: float = 0.3,
        on_submit: Callable[[SubmittedMessage], None] | None = None,
    ) -> None:
        self.auto_receipt = auto_receipt
        self.receipt_delay = receipt_delay
        self.on_submit = on_submit
        self.submitted: list[SubmittedMessage] = []
        self.sessions: list[Session] = []
        self._changed = threading.Condition()
        # Ids start at a random point so two runs never reuse one (gateways may keep old ids).
        self._ids = itertools.count(random.randint(10**9, 9 * 10**9))
        simulator = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                simulator._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> SmscSimulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="smsc-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._changed:
            sessions = list(self.sessions)
        for session in sessions:
            with suppress(OSError):
                session.connection.shutdown(socket.SHUT_RDWR)
            session.connection.close()

    def __enter__(self) -> SmscSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # What the tests ask for.

    def wait_for_bind(self, *, system_id: str | None = None, timeout: float = 15) -> Session:
        """The first session bound (as ``system_id``, if given) that can receive deliver_sm."""
        return self._wait(
            lambda: next(
                (s for s in self.sessions if s.can_receive and system_id in (None, s.system_id)),
                None,
            ),
            timeout,
            "no ESME bound",
        )

    def wait_for_submit(
        self, predicate: Callable[[SubmittedMessage], bool] = lambda _: True, *, timeout: float = 15
    ) -> SubmittedMessage:
        """The first submitted message that ``predicate`` accepts, waiting for it if need be."""
        return self._wait(
            lambda: next((m for m in self.submitted if predicate(m)), None), timeout, "no matching submit_sm"
        )

    def send_receipt(
        self,
        message: SubmittedMessage,
        status: str = "DELIVRD",
        *,
        error: str | None = None,
        copies: int = 1,
        wait_for_ack: float = 5,
    ) -> None:
        """Send a delivery receipt for ``message`` with ``status`` (``copies`` times in a row).

        Returns once the ESME acknowledged each copy with deliver_sm_resp.
        """
        if status not in MESSAGE_STATES:
            raise ValueError(f"unknown receipt status {status!r}")
        now = datetime.now(UTC).strftime("%y%m%d%H%M")
        submitted = message.received_at.strftime("%y%m%d%H%M")
        delivered = "001" if status == "DELIVRD" else "000"
        error = error or ("000" if status in ("DELIVRD", "ACCEPTD", "ENROUTE") else "001")
        excerpt = "".join(c if 32 <= ord(c) < 127 else "?" for c in message.text[:20])
        text = (
            f"id:{message.message_id} sub:001 dlvrd:{delivered} submit date:{submitted} done date:{now} "
            f"stat:{status} err:{error} text:{excerpt}"
        )
        tlvs = tlv(TAG_RECEIPTED_MESSAGE_ID, message.message_id.encode() + b"\x00") + tlv(
            TAG_MESSAGE_STATE, bytes((MESSAGE_STATES[status],))
        )
        body = sm_body(
            source=message.destination,
            destination=message.source,
            esm_class=ESM_CLASS_RECEIPT,
            data_coding=DATA_CODING_DEFAULT,
            short_message=text.encode("ascii"),
            tlvs=tlvs,
            source_ton=address_ton(message.destination),
            destination_ton=address_ton(message.source),
        )
        session = self._receiver_for(message.system_id)
        for _ in range(copies):
            self._deliver(session, body, wait_for_ack)

    def inject_mo(
        self,
        *,
        source: str,
        destination: str,
        text: str,
        system_id: str | None = None,
        wait_for_ack: float = 5,
    ) -> None:
        """Deliver an inbound message: GSM 03.38 when the text fits, UCS-2 (UTF-16BE) otherwise."""
        gsm = gsm_encode(text)
        data_coding, payload = (
            (DATA_CODING_DEFAULT, gsm) if gsm is not None else (DATA_CODING_UCS2, text.encode("utf-16-be"))
        )
        body = sm_body(
            source=source,
            destination=destination,
            esm_class=0,
            data_coding=data_coding,
            short_message=payload,
            source_ton=address_ton(source),
            destination_ton=address_ton(destination),
        )
        self._deliver(self._receiver_for(system_id), body, wait_for_ack)

    # The SMSC side.

    def _serve(self, connection: socket.socket) -> None:
        session = Session(connection)
        with self._changed:
            self.sessions.append(session)
            self._changed.notify_all()
        try:
            while True:
                header = _read_exactly(connection, 16)
                if header is None:
                    return
                length, command_id, _status, sequence = struct.unpack(">IIII", header)
                body = _read_exactly(connection, length - 16) if length > 16 else b""
                if body is None:
                    return
                if not self._handle(session, command_id, sequence, body):
                    return
        except OSError:
            return
        finally:
            with self._changed:
                if session in self.sessions:
                    self.sessions.remove(session)
                self._changed.notify_all()
            connection.close()

    def _handle(self, session: Session, command_id: int, sequence: int, body: bytes) -> bool:
        if command_id in BINDS:
            session.system_id, _ = c_string(body, 0)
            session.mode = BINDS[command_id]
            session.send(command_id | RESPONSE, b"fastsock-smsc\x00", sequence=sequence)
            with self._changed:
                self._changed.notify_all()
        elif command_id == SUBMIT_SM:
            message = self._submitted(session, body)
            session.send(SUBMIT_SM | RESPONSE, message.message_id.encode() + b"\x00", sequence=sequence)
            with self._changed:
                self.submitted.append(message)
                self._changed.notify_all()
            if self.on_submit:
                self.on_submit(message)
            if self.auto_receipt and message.wants_receipt:
                timer = threading.Timer(self.receipt_delay, self.send_receipt, (message, self.auto_receipt))
                timer.daemon = True
                timer.start()
        elif command_id == ENQUIRE_LINK:
            session.send(ENQUIRE_LINK | RESPONSE, b"", sequence=sequence)
        elif command_id == UNBIND:
            session.send(UNBIND | RESPONSE, b"", sequence=sequence)
            return False
        elif command_id == DELIVER_SM | RESPONSE:
            with self._changed:
                session.acknowledged.add(sequence)
                self._changed.notify_all()
        elif not command_id & RESPONSE:
            session.send(GENERIC_NACK, b"", status=ESME_RINVCMDID, sequence=sequence)
        return True

    def _submitted(self, session: Session, body: bytes) -> SubmittedMessage:
        fields = parse_sm(body)
        tlvs: dict[int, bytes] = fields["tlvs"]  # type: ignore[assignment]
        data = tlvs.get(TAG_MESSAGE_PAYLOAD) or fields["short_message"]
        assert isinstance(data, bytes)
        esm_class = int(fields["esm_class"])  # type: ignore[call-overload]
        udh = b""
        if esm_class & ESM_CLASS_UDHI and data:
            udh, data = data[: data[0] + 1], data[data[0] + 1 :]
        data_coding = int(fields["data_coding"])  # type: ignore[call-overload]
        return SubmittedMessage(
            message_id=str(next(self._ids)),
            system_id=session.system_id,
            source=str(fields["source_addr"]),
            destination=str(fields["destination_addr"]),
            data_coding=data_coding,
            esm_class=esm_class,
            registered_delivery=int(fields["registered_delivery"]),  # type: ignore[call-overload]
            short_message=data,
            udh=udh,
            text=decode_text(data, data_coding),
            received_at=datetime.now(UTC),
        )

    def _receiver_for(self, system_id: str | None) -> Session:
        with self._changed:
            for session in self.sessions:
                if session.can_receive and system_id in (None, session.system_id):
                    return session
        raise RuntimeError(f"no bound receiver or transceiver (system_id {system_id!r})")

    def _deliver(self, session: Session, body: bytes, wait_for_ack: float) -> None:
        sequence = session.send(DELIVER_SM, body)
        if wait_for_ack:
            self._wait(lambda: sequence in session.acknowledged or None, wait_for_ack, "deliver_sm not acknowledged")

    def _wait(self, find: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        with self._changed:
            while (found := find()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{what} within {timeout} s")
                self._changed.wait(remaining)
            return found


def _read_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = connection.recv(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2776)
    parser.add_argument("--receipt", choices=sorted(MESSAGE_STATES), default="DELIVRD")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds before each receipt")
    arguments = parser.parse_args()

    def show(message: SubmittedMessage) -> None:
        print(f"submit_sm {message.message_id}: {message.source} -> {message.destination} {message.text!r}", flush=True)

    simulator = SmscSimulator(
        arguments.host, arguments.port, auto_receipt=arguments.receipt, receipt_delay=arguments.delay, on_submit=show
    )
    print(f"SMSC simulator on {arguments.host}:{simulator.port}", flush=True)
    with simulator, suppress(KeyboardInterrupt):
        threading.Event().wait()


if __name__ == "__main__":
    main()
