// 1:1 calls in the web chat: signaling over the chat socket (call.*), media peer to peer
// (or through TURN), with a clear state always on screen.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
const CLOSE_AFTER_MS = 2500;
const CLOSE_AFTER_PROBLEM_MS = 8000; // long enough to read what went wrong

const OUTCOME_TEXT = {
  completed: () => "Call ended",
  rejected: (name) => `${name} declined the call`,
  busy: (name) => `${name} is in another call`,
  missed: (name) => `${name} is offline — they will see a missed call`,
  unanswered: () => "No answer",
  canceled: () => "Call canceled",
  failed: () => "The call was lost",
};

export function createCalls({ socket, me, rooms, toast, iceTransportPolicy }) {
  let call = null; // the call on screen: {id, role, media, peer, pc, local, pendingIce, state, timer}
  let incoming = null; // a ringing invite waiting for an answer: {call}

  function peerOf(payload) {
    return payload.caller.id === me.id ? payload.callee : payload.caller;
  }

  function setState(state, text) {
    if (!call) return;
    call.state = state;
    $("call-view").dataset.state = state;
    $("call-state").textContent = text;
    if (state === "connected" && !call.connectedAt) {
      call.connectedAt = Date.now();
      call.timer = setInterval(() => {
        const seconds = Math.floor((Date.now() - call.connectedAt) / 1000);
        $("call-state").textContent = `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
      }, 1000);
    }
  }

  function showView(peerName, media) {
    const view = $("call-view");
    view.hidden = false;
    view.dataset.media = media;
    $("call-peer").textContent = peerName;
    $("call-mute").setAttribute("aria-pressed", "false");
    $("call-camera").setAttribute("aria-pressed", "false");
    $("call-camera").hidden = media !== "video";
  }

  function finish(text, { problem = false } = {}) {
    if (!call) return;
    const ending = call;
    clearInterval(ending.timer);
    setState("ended", text);
    if (ending.pc) ending.pc.close();
    if (ending.local) ending.local.getTracks().forEach((track) => track.stop());
    $("remote-video").srcObject = null;
    $("local-video").srcObject = null;
    call = null;
    setTimeout(() => {
      if (!call) $("call-view").hidden = true;
    }, problem ? CLOSE_AFTER_PROBLEM_MS : CLOSE_AFTER_MS);
  }

  async function media(kind) {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: kind === "video" });
    } catch (error) {
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      throw new Error(
        denied
          ? "FastSock needs your microphone" + (kind === "video" ? " and camera" : "") + " for calls. Allow them for this site in your browser's settings, then try again."
          : "No microphone or camera could be started. Check that one is connected and not used by another app.",
      );
    }
  }

  async function peerConnection() {
    let iceServers = [];
    try {
      iceServers = (await api("GET", "/api/v1/calls/ice-servers")).ice_servers;
    } catch {
      iceServers = []; // direct connections still work on most networks
    }
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
    call.pc = pc;
    call.local.getTracks().forEach((track) => pc.addTrack(track, call.local));
    const callId = call.id;
    pc.onicecandidate = (event) => socket.send("call.ice", { call_id: callId, candidate: event.candidate ? event.candidate.toJSON() : null });
    pc.ontrack = (event) => {
      $("remote-video").srcObject = event.streams[0];
    };
    pc.onconnectionstatechange = () => {
      if (!call || call.pc !== pc) return;
      if (pc.connectionState === "connected") setState("connected", "Connected");
      else if (pc.connectionState === "disconnected") setState("reconnecting", "Reconnecting…");
      else if (pc.connectionState === "failed") restartIce();
    };
    return pc;
  }

  async function restartIce() {
    if (!call || !call.pc || call.role !== "caller") return;
    setState("reconnecting", "Reconnecting…");
    const offer = await call.pc.createOffer({ iceRestart: true });
    await call.pc.setLocalDescription(offer);
    socket.send("call.offer", { call_id: call.id, sdp: offer.sdp, ice_restart: true });
  }

  async function addCandidates() {
    if (!call || !call.pc || !call.pc.remoteDescription) return;
    for (const candidate of call.pendingIce.splice(0)) {
      try {
        await call.pc.addIceCandidate(candidate);
      } catch {
        // A candidate from an older ICE generation: harmless to skip.
      }
    }
  }

  async function start(roomId, kind) {
    if (call) {
      toast("You are already in a call.");
      return;
    }
    const room = rooms.get(roomId);
    const peerName = room && room.peer ? room.peer.display_name : "them";
    call = { id: null, role: "caller", media: kind, peerName, pc: null, local: null, pendingIce: [], state: "calling" };
    showView(peerName, kind);
    setState("calling", `Calling ${peerName}…`);
    try {
      call.local = await media(kind);
    } catch (error) {
      finish(error.message, { problem: true });
      return;
    }
    $("local-video").srcObject = call.local;
    socket.send("call.invite", { room_id: roomId, media: kind }, "call-invite");
  }

  async function accept() {
    const ringing = incoming;
    closeIncoming();
    if (!ringing) return;
    const payload = ringing.call;
    const peer = peerOf(payload);
    call = { id: payload.id, role: "callee", media: payload.media, peerName: peer.display_name, pc: null, local: null, pendingIce: [] };
    showView(peer.display_name, payload.media);
    setState("connecting", "Connecting…");
    try {
      call.local = await media(payload.media);
    } catch (error) {
      socket.send("call.hangup", { call_id: payload.id });
      finish(error.message, { problem: true });
      return;
    }
    $("local-video").srcObject = call.local;
    await peerConnection();
    socket.send("call.accept", { call_id: payload.id });
  }

  function decline() {
    if (incoming) socket.send("call.reject", { call_id: incoming.call.id });
    closeIncoming();
  }

  function hangUp() {
    if (call && call.id) socket.send("call.hangup", { call_id: call.id });
    finish("Call ended");
  }

  function closeIncoming() {
    incoming = null;
    const dialog = $("incoming-call");
    if (dialog.open) dialog.close();
  }

  const handlers = {
    "call.created": ({ call: payload }) => {
      if (!call || call.role !== "caller" || call.id) return;
      call.id = payload.id;
    },
    "call.ringing": ({ call: payload, devices }) => {
      if (call && call.id === payload.id) setState("ringing", devices > 1 ? `Ringing on ${devices} devices…` : "Ringing…");
    },
    "call.busy": ({ call: payload }) => call && call.id === payload.id && finish(OUTCOME_TEXT.busy(call.peerName)),
    "call.offline": ({ call: payload }) => call && call.id === payload.id && finish(OUTCOME_TEXT.missed(call.peerName)),
    "call.incoming": ({ call: payload }) => {
      if (call || incoming) return; // the server has already answered "busy" for us
      incoming = { call: payload };
      const caller = payload.caller.display_name;
      $("incoming-title").textContent = caller;
      $("incoming-kind").textContent = payload.media === "video" ? "Incoming video call" : "Incoming voice call";
      $("incoming-call").showModal();
    },
    "call.answered_elsewhere": ({ call_id }) => {
      if (incoming && incoming.call.id === call_id) {
        closeIncoming();
        toast("Answered on another device.", "info");
      }
    },
    "call.accepted": async ({ call: payload }) => {
      if (!call || call.id !== payload.id) return;
      setState("connecting", "Connecting…");
      if (call.role !== "caller") return; // the callee waits for the offer
      const pc = await peerConnection();
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      socket.send("call.offer", { call_id: call.id, sdp: offer.sdp });
    },
    "call.offer": async ({ call_id, sdp }) => {
      if (!call || call.id !== call_id || !call.pc) return;
      await call.pc.setRemoteDescription({ type: "offer", sdp });
      await addCandidates();
      const answer = await call.pc.createAnswer();
      await call.pc.setLocalDescription(answer);
      socket.send("call.answer", { call_id, sdp: answer.sdp });
    },
    "call.answer": async ({ call_id, sdp }) => {
      if (!call || call.id !== call_id || !call.pc) return;
      await call.pc.setRemoteDescription({ type: "answer", sdp });
      await addCandidates();
    },
    "call.ice": async ({ call_id, candidate }) => {
      if (!call || call.id !== call_id || !candidate) return;
      call.pendingIce.push(candidate);
      await addCandidates();
    },
    "call.resumed": ({ call_id }) => {
      if (call && call.id === call_id) restartIce();
    },
    "call.ended": ({ call: payload }) => {
      if (incoming && incoming.call.id === payload.id) {
        closeIncoming();
        return;
      }
      if (call && call.id === payload.id) finish((OUTCOME_TEXT[payload.outcome] || OUTCOME_TEXT.completed)(call.peerName));
    },
  };

  function handle(frame) {
    const handler = handlers[frame.event];
    if (handler) handler(frame.data || {});
    if (frame.event === "error" && call && !call.id && frame.data.ref === "call-invite") finish(frame.data.message);
  }

  function onReconnected() {
    // The socket came back (a new one): take the call over on it, then reconnect the media.
    if (call && call.id && call.state !== "ended") socket.send("call.resume", { call_id: call.id });
  }

  function toggle(kind, button) {
    if (!call || !call.local) return;
    const tracks = kind === "audio" ? call.local.getAudioTracks() : call.local.getVideoTracks();
    const off = button.getAttribute("aria-pressed") !== "true";
    tracks.forEach((track) => {
      track.enabled = !off;
    });
    button.setAttribute("aria-pressed", String(off));
    button.textContent = kind === "audio" ? (off ? "Unmute" : "Mute") : off ? "Camera on" : "Camera off";
  }

  $("call-hangup").addEventListener("click", hangUp);
  $("call-close").addEventListener("click", () => {
    if (!call) $("call-view").hidden = true;
  });
  $("call-mute").addEventListener("click", (event) => toggle("audio", event.currentTarget));
  $("call-camera").addEventListener("click", (event) => toggle("video", event.currentTarget));
  $("incoming-accept").addEventListener("click", accept);
  $("incoming-decline").addEventListener("click", decline);
  $("incoming-call").addEventListener("cancel", (event) => {
    event.preventDefault(); // Esc declines explicitly, not silently
    decline();
  });

  return {
    start,
    handle,
    onReconnected,
    get current() {
      return call;
    },
  };
}
