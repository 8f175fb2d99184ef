// Group calls in the web chat: FastSock hands out the seat (a Janus token), Janus carries the
// media (./janus.js), and room members see who is in the call through call.* events.

import { api, csrfToken } from "./api.js";
import { el } from "./format.js";
import { VideoRoom } from "./janus.js";

const $ = (id) => document.getElementById(id);

export function createGroupCalls({ me, rooms, toast, currentRoomId, enabled }) {
  const live = new Map(); // room id → the live group call there ({id, participant_ids, …})
  let active = null; // {roomId, videoRoom, local, renew}

  function names(call) {
    return `${call.participant_ids.length} in the call`;
  }

  function renderBanner() {
    const roomId = currentRoomId();
    const banner = $("group-call-banner");
    const room = rooms.get(roomId);
    const call = live.get(roomId);
    const button = $("group-call");
    button.hidden = !enabled || !room || room.kind !== "group";
    if (!enabled || !room || room.kind !== "group" || !call || (active && active.roomId === roomId)) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    $("group-call-text").textContent = `A call is going on · ${names(call)}`;
  }

  function onEvent(frame) {
    const call = frame.data.call;
    if (!call || call.kind !== "group") return false;
    if (frame.event === "call.ended") live.delete(call.room_id);
    else live.set(call.room_id, call);
    renderBanner();
    if (active && active.roomId === call.room_id) $("group-call-count").textContent = names(call);
    return true;
  }

  async function roomOpened(roomId) {
    renderBanner();
    if (!enabled) return;
    const room = rooms.get(roomId);
    if (!room || room.kind !== "group") return;
    try {
      const [latest] = (await api("GET", `/api/v1/calls?room_id=${roomId}&limit=1`)).results;
      if (latest && latest.kind === "group" && latest.state === "active") live.set(roomId, latest);
      else live.delete(roomId);
    } catch {
      return;
    }
    renderBanner();
  }

  function tile(id, label, stream, { mine = false } = {}) {
    let node = document.getElementById(`tile-${id}`);
    if (!node) {
      const video = el("video", { autoplay: true, playsinline: true, muted: mine });
      node = el("figure", { class: `tile${mine ? " mine" : ""}`, id: `tile-${id}`, dataset: { feed: id } }, video, el("figcaption", {}, label));
      $("group-grid").append(node);
    }
    node.querySelector("video").srcObject = stream;
    $("group-grid").dataset.count = String($("group-grid").children.length);
  }

  async function join(roomId) {
    if (active) {
      toast("You are already in a call.");
      return;
    }
    const view = $("group-call-view");
    let local;
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch {
      toast("FastSock needs your microphone and camera for calls. Allow them for this site in your browser's settings, then try again.");
      return;
    }
    active = { roomId, local, videoRoom: null, renew: null };
    view.hidden = false;
    $("group-call-title").textContent = rooms.get(roomId) ? rooms.get(roomId).title || rooms.get(roomId).name : "Group call";
    $("group-call-count").textContent = "Joining…";
    $("group-grid").replaceChildren();
    tile("me", "You", local, { mine: true });
    try {
      const seat = await api("POST", `/api/v1/calls/group/${roomId}/join`);
      live.set(roomId, seat.call);
      $("group-call-count").textContent = names(seat.call);
      const videoRoom = new VideoRoom({
        server: seat.sfu.server,
        token: seat.sfu.token,
        room: seat.sfu.room,
        pin: seat.sfu.pin,
        iceServers: seat.sfu.ice_servers,
        display: me.display_name,
        onRemote: (id, display, stream) => tile(id, display || "Someone", stream),
        onRemoteGone: (id) => {
          const node = document.getElementById(`tile-${id}`);
          if (node) node.remove();
          $("group-grid").dataset.count = String($("group-grid").children.length);
        },
        onError: (error) => toast(error.message),
      });
      active.videoRoom = videoRoom;
      await videoRoom.join(local);
      // Keep the seat: the token runs out unless renewed (same token, later expiry).
      const lifetime = new Date(seat.sfu.expires_at).getTime() - Date.now();
      active.renew = setInterval(() => api("POST", `/api/v1/calls/group/${roomId}/join`).catch(() => {}), Math.max(30000, lifetime / 2));
    } catch (error) {
      toast(`Could not join the call: ${error.message}`);
      await leave();
    }
    renderBanner();
  }

  async function leave() {
    if (!active) return;
    const ending = active;
    active = null;
    clearInterval(ending.renew);
    if (ending.videoRoom) await ending.videoRoom.leave();
    ending.local.getTracks().forEach((track) => track.stop());
    $("group-call-view").hidden = true;
    $("group-grid").replaceChildren();
    try {
      await api("POST", `/api/v1/calls/group/${ending.roomId}/leave`);
    } catch {
      // The seat runs out on its own.
    }
    renderBanner();
  }

  function toggle(kind, button) {
    if (!active) return;
    const tracks = kind === "audio" ? active.local.getAudioTracks() : active.local.getVideoTracks();
    const off = button.getAttribute("aria-pressed") !== "true";
    tracks.forEach((track) => {
      track.enabled = !off;
    });
    button.setAttribute("aria-pressed", String(off));
    button.textContent = kind === "audio" ? (off ? "Unmute" : "Mute") : off ? "Camera on" : "Camera off";
  }

  $("group-call").addEventListener("click", () => join(currentRoomId()));
  $("group-call-join").addEventListener("click", () => join(currentRoomId()));
  $("group-call-leave").addEventListener("click", leave);
  $("group-call-mute").addEventListener("click", (event) => toggle("audio", event.currentTarget));
  $("group-call-camera").addEventListener("click", (event) => toggle("video", event.currentTarget));
  window.addEventListener("pagehide", () => {
    // Closing the tab mid-call: give the seat back now rather than when its token runs out.
    if (!active) return;
    const form = new FormData();
    form.append("csrfmiddlewaretoken", csrfToken());
    navigator.sendBeacon(`/api/v1/calls/group/${active.roomId}/leave`, form);
  });

  return {
    onEvent,
    roomOpened,
    renderBanner,
    get active() {
      return active;
    },
  };
}
