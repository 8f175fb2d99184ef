// A small client for Janus's VideoRoom over its HTTP API: publish our camera and microphone,
// subscribe to everyone else's. Just what a group call needs: one session, one publisher
// handle, one subscriber handle per remote feed, trickle ICE, a long-poll for events.

const KEEPALIVE_MS = 25000;

function transactionId() {
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

export class VideoRoom {
  /** @param {{server, token, room, pin, iceServers, display, onRemote, onRemoteGone, onError}} options */
  constructor(options) {
    Object.assign(this, options);
    this.session = null;
    this.publisher = null; // {handle, pc}
    this.feeds = new Map(); // feed id → {handle, pc, display}
    this.waiting = new Map(); // transaction → resolve for asynchronous plugin answers
    this.handleEvents = new Map(); // handle id → function(event)
    this.closed = false;
  }

  async request(path, body) {
    const response = await fetch(`${this.server}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, transaction: body.transaction || transactionId(), token: this.token }),
    });
    const data = await response.json();
    if (data.janus === "error") throw new Error(data.error.reason || "Janus refused the request.");
    return data;
  }

  async join(localStream) {
    this.session = (await this.request("", { janus: "create" })).data.id;
    this.poll();
    this.keepalive = setInterval(() => this.request(`/${this.session}`, { janus: "keepalive" }).catch(() => {}), KEEPALIVE_MS);
    const handle = await this.attach();
    this.publisher = { handle, pc: this.peerConnection(handle) };
    localStream.getTracks().forEach((track) => this.publisher.pc.addTrack(track, localStream));
    const joined = await this.message(handle, { request: "join", ptype: "publisher", room: this.room, pin: this.pin, display: this.display, token: this.token });
    if (joined.plugindata.data.error) throw new Error(joined.plugindata.data.error);
    const offer = await this.publisher.pc.createOffer();
    await this.publisher.pc.setLocalDescription(offer);
    const answer = await this.message(handle, { request: "configure", audio: true, video: true }, offer);
    await this.publisher.pc.setRemoteDescription(answer.jsep);
    this.onPublishers(joined.plugindata.data.publishers || []);
  }

  async attach() {
    const attached = await this.request(`/${this.session}`, { janus: "attach", plugin: "janus.plugin.videoroom" });
    return attached.data.id;
  }

  peerConnection(handle) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    pc.onicecandidate = (event) => {
      const candidate = event.candidate ? event.candidate.toJSON() : { completed: true };
      this.request(`/${this.session}/${handle}`, { janus: "trickle", candidate }).catch(() => {});
    };
    return pc;
  }

  /** A plugin request whose answer comes as an event (join, configure, start) or at once. */
  async message(handle, body, jsep) {
    const transaction = transactionId();
    const answer = new Promise((resolve) => this.waiting.set(transaction, resolve));
    const sent = await this.request(`/${this.session}/${handle}`, { janus: "message", body, jsep, transaction });
    if (sent.janus === "success") {
      this.waiting.delete(transaction);
      return sent;
    }
    return answer;
  }

  async poll() {
    while (!this.closed) {
      let events;
      try {
        const response = await fetch(`${this.server}/${this.session}?maxev=10&rid=${Date.now()}&token=${encodeURIComponent(this.token)}`);
        events = await response.json();
      } catch {
        if (this.closed) return;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      for (const event of Array.isArray(events) ? events : [events]) this.dispatch(event);
    }
  }

  dispatch(event) {
    if (event.janus === "error" && event.error && event.error.code === 458) {
      this.onError(new Error("The call's session on the media server is gone."));
      return;
    }
    if (event.janus !== "event" || !event.plugindata) return;
    const resolve = this.waiting.get(event.transaction);
    if (resolve) {
      this.waiting.delete(event.transaction);
      resolve(event);
      return;
    }
    const data = event.plugindata.data;
    if (data.publishers) this.onPublishers(data.publishers);
    const gone = data.unpublished || data.leaving;
    if (gone && gone !== "ok") this.dropFeed(gone);
  }

  onPublishers(publishers) {
    for (const publisher of publishers) {
      if (!this.feeds.has(publisher.id)) this.subscribe(publisher).catch((error) => this.onError(error));
    }
  }

  async subscribe(publisher) {
    const feed = { display: publisher.display, handle: null, pc: null };
    this.feeds.set(publisher.id, feed);
    feed.handle = await this.attach();
    feed.pc = this.peerConnection(feed.handle);
    feed.pc.ontrack = (event) => this.onRemote(publisher.id, publisher.display, event.streams[0] || new MediaStream([event.track]));
    const joined = await this.message(feed.handle, { request: "join", ptype: "subscriber", room: this.room, pin: this.pin, streams: [{ feed: publisher.id }], token: this.token });
    if (!joined.jsep) throw new Error(joined.plugindata.data.error || "The media server sent no offer.");
    await feed.pc.setRemoteDescription(joined.jsep);
    const answer = await feed.pc.createAnswer();
    await feed.pc.setLocalDescription(answer);
    await this.message(feed.handle, { request: "start", room: this.room }, answer);
  }

  dropFeed(id) {
    const feed = this.feeds.get(id);
    if (!feed) return;
    this.feeds.delete(id);
    if (feed.pc) feed.pc.close();
    this.onRemoteGone(id);
  }

  async leave() {
    this.closed = true;
    clearInterval(this.keepalive);
    for (const id of [...this.feeds.keys()]) this.dropFeed(id);
    if (this.publisher) this.publisher.pc.close();
    if (this.session) await this.request(`/${this.session}`, { janus: "destroy" }).catch(() => {});
  }
}
