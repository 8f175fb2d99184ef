// One WebSocket per tab: reconnects with exponential backoff and jitter, resumes with
// ?since=<last seq> so nothing is missed or repeated, and queues sends while offline.

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const PING_EVERY_MS = 25000;

export class ChatSocket {
  constructor({ since, onEvent, onState }) {
    this.lastSeq = since;
    this.onEvent = onEvent;
    this.onState = onState;
    this.queue = [];
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.countdown = null;
    this.ping = null;
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = this.lastSeq !== null && this.lastSeq !== undefined ? `?since=${this.lastSeq}` : "";
    this.onState({ state: this.attempt === 0 ? "connecting" : "reconnecting" });
    const ws = new WebSocket(`${scheme}://${location.host}/ws/${query}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onState({ state: "open" });
      const pending = this.queue.splice(0);
      for (const frame of pending) ws.send(frame);
      clearInterval(this.ping);
      this.ping = setInterval(() => this.send("ping", {}), PING_EVERY_MS);
    };
    ws.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (typeof frame.seq === "number") {
        if (this.lastSeq !== null && frame.seq <= this.lastSeq) return; // already handled
        this.lastSeq = frame.seq;
      }
      if (frame.event === "resync" && frame.data && typeof frame.data.seq === "number") {
        this.lastSeq = frame.data.seq;
      }
      this.onEvent(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      clearInterval(this.ping);
      this.ws = null;
      this.scheduleReconnect(event.code);
    };
  }

  scheduleReconnect(code) {
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const jittered = Math.round(delay * (0.7 + Math.random() * 0.6));
    this.attempt += 1;
    const due = Date.now() + jittered;
    const tick = () => this.onState({ state: "closed", code, retryIn: Math.max(0, Math.ceil((due - Date.now()) / 1000)) });
    tick();
    this.countdown = setInterval(tick, 1000);
    this.timer = setTimeout(() => this.connect(), jittered);
  }

  retryNow() {
    if (this.ws !== null) return;
    this.connect();
  }

  /** Send now, or as soon as the socket is open again. */
  send(event, data, ref) {
    const frame = JSON.stringify(ref ? { event, data, ref } : { event, data });
    if (this.open) this.ws.send(frame);
    else if (event !== "ping" && !event.startsWith("typing.")) this.queue.push(frame);
  }

  /** Send only if open right now (typing, read marks: stale ones are not worth queueing). */
  sendIfOpen(event, data) {
    if (this.open) this.ws.send(JSON.stringify({ event, data }));
  }
}
