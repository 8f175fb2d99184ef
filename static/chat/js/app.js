// The chat page: room list, conversation, composer and everything live in between.
// State comes from the page (rooms, stream position) and REST; changes arrive over ChatSocket.

import { api, uploadFile } from "./api.js";
import { ChatSocket } from "./socket.js";
import { el, linkify, highlighted, timeOf, dayLabel, sizeText, relativeTime, initial } from "./format.js";
import { openDirectModal, openGroupModal, peoplePicker } from "./people.js";
import { createCalls } from "./calls.js";
import { createGroupCalls } from "./groupcall.js";

const boot = JSON.parse(document.getElementById("chat-bootstrap").textContent);
const me = boot.me;
const limits = boot.limits;
const PAGE = 50;
const REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "🔥", "👀", "✅"];
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 10000;
const $ = (id) => document.getElementById(id);

const rooms = new Map(boot.rooms.map((room) => [room.id, room]));
const views = new Map(); // room id → {messages: Map, pending: Map, members: Map, hasOlder, hasNewer, loaded}
const typingNow = new Map(); // room id → Map(user id → expiry timer)
let currentId = null;
let pinnedToBottom = true;
let replyTo = null;
let editing = null;
let notifyCount = 0;

function view(roomId) {
  if (!views.has(roomId)) {
    views.set(roomId, { messages: new Map(), pending: new Map(), members: new Map(), hasOlder: false, hasNewer: false, loaded: false, nodes: new Map() });
  }
  return views.get(roomId);
}

// --- Toasts ---------------------------------------------------------------------------------

function toast(text, kind = "error") {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

// --- Socket -----------------------------------------------------------------------------------

const socket = new ChatSocket({ since: boot.stream_seq, onEvent: handleEvent, onState: showConnection });
const calls = createCalls({ socket, me, rooms, toast, iceTransportPolicy: boot.calls.ice_transport_policy });
const groupCalls = createGroupCalls({ me, rooms, toast, currentRoomId: () => currentId, enabled: boot.calls.group_calls });

function showConnection({ state, retryIn }) {
  const banner = $("conn-banner");
  document.body.dataset.connection = state;
  if (state === "open" || state === "connecting") {
    banner.hidden = true;
    if (state === "open") {
      flushPending();
      calls.onReconnected();
    }
    return;
  }
  banner.hidden = false;
  if (state === "closed" && socket.attempt === 3) checkSession();
  $("conn-text").textContent = state === "reconnecting" ? "Reconnecting…" : `Disconnected — reconnecting in ${retryIn}s`;
}

async function checkSession() {
  // A socket that keeps failing may mean the session ended (logged out elsewhere, expired):
  // then reconnecting cannot help, and the person should log in again.
  try {
    await api("GET", "/api/v1/users/me");
  } catch (error) {
    if (error.status === 401 || error.status === 403) location.assign(`/login/?next=${encodeURIComponent(location.pathname)}`);
  }
}

function flushPending() {
  // Sends made while the socket was down went to its queue; re-send anything still unacked
  // after a reconnect (the same client_id returns the original, never a duplicate).
  for (const roomView of views.values()) {
    for (const pending of roomView.pending.values()) {
      if (pending.state === "sending" && pending.sentAt && Date.now() - pending.sentAt > 3000) sendFrame(pending);
    }
  }
}

const EVENT_HANDLERS = {
  "message.ack": ({ message }) => storeMessage(message),
  "message.new": ({ message }) => onNewMessage(message),
  "message.updated": ({ message }) => storeMessage(message),
  "message.deleted": ({ message }) => storeMessage(message),
  "message.reaction": (data) => onReaction(data),
  "message.delivered": (data) => onWatermark(data, "last_delivered_message_id"),
  "message.read": (data) => onWatermark(data, "last_read_message_id"),
  unread: ({ room_id, unread_count }) => setUnread(room_id, unread_count),
  typing: (data) => onTyping(data),
  presence: (data) => onPresence(data),
  "room.created": ({ room }) => onRoomChanged(room),
  "room.updated": ({ room }) => onRoomChanged(room),
  "room.member_added": ({ room }) => onRoomChanged(room, true),
  "room.member_removed": (data) => onMemberRemoved(data),
  resync: () => resync(),
  error: (data, frame) => onSocketError(data, frame),
};

function handleEvent(frame) {
  if (frame.event.startsWith("call.") && groupCalls.onEvent(frame)) return;
  if (frame.event.startsWith("call.") || (frame.event === "error" && frame.data && frame.data.ref === "call-invite")) {
    calls.handle(frame);
    if (frame.event !== "error") return;
  }
  const handler = EVENT_HANDLERS[frame.event];
  if (handler) handler(frame.data || {}, frame);
}

function onSocketError(error, frame) {
  const clientId = (error.details && error.details.client_id) || frame.ref;
  for (const roomView of views.values()) {
    const pending = clientId && roomView.pending.get(clientId);
    if (pending) {
      pending.state = "failed";
      pending.error = error.code === "rate_limited" ? `Slow down — ${error.message}` : error.message;
      if (roomView === views.get(currentId)) renderTimeline();
      return;
    }
  }
  if (error.code === "rate_limited") toast(error.message);
}

async function resync() {
  // Too far behind to replay: reload the room list and the open room over REST.
  const list = await api("GET", "/api/v1/rooms?limit=100");
  rooms.clear();
  list.results.forEach((room) => rooms.set(room.id, room));
  views.clear();
  renderRooms();
  if (currentId !== null) openRoom(currentId, { push: false });
}

// --- Rooms sidebar ------------------------------------------------------------------------------

function roomTitle(room) {
  return room.title || room.name || "Conversation";
}

function sortedRooms() {
  return [...rooms.values()].sort((a, b) => (b.last_activity_at || "").localeCompare(a.last_activity_at || "") || b.id - a.id);
}

function avatarFor(room) {
  const url = room.avatar_url || (room.peer && room.peer.avatar_url);
  const node = el("span", { class: `avatar ${room.kind}`, "aria-hidden": "true" });
  if (url) node.append(el("img", { src: url, alt: "" }));
  else node.textContent = room.kind === "group" ? initial(roomTitle(room)) : initial(roomTitle(room));
  if (room.kind === "direct" && room.peer) node.append(el("span", { class: `dot ${room.peer.online ? "online" : ""}` }));
  return node;
}

function preview(room) {
  const message = room.last_message;
  if (!message) return room.kind === "group" ? "Group" : "Direct message";
  if (message.deleted) return "Message deleted";
  const who = message.sender && message.sender.id === me.id ? "You: " : room.kind === "group" && message.sender ? `${message.sender.display_name}: ` : "";
  const body = message.attachment ? (message.attachment.kind === "image" ? "📷 Photo" : `📎 ${message.attachment.name}`) : message.content;
  return who + body;
}

function renderRooms() {
  const filter = $("room-filter").value.trim().toLowerCase();
  const list = $("room-list");
  const nodes = sortedRooms()
    .filter((room) => !filter || roomTitle(room).toLowerCase().includes(filter))
    .map((room) => {
      const unread = room.unread_count || 0;
      return el(
        "a",
        { class: `room${room.id === currentId ? " active" : ""}${unread ? " has-unread" : ""}`, href: `/r/${room.id}/`, dataset: { roomId: room.id }, "aria-current": room.id === currentId ? "page" : null },
        avatarFor(room),
        el("span", { class: "room-text" }, el("span", { class: "room-name" }, roomTitle(room)), el("span", { class: "room-preview" }, preview(room))),
        unread ? el("span", { class: "badge", "aria-label": `${unread} unread` }, unread > 99 ? "99+" : String(unread)) : el("span", { class: "room-time" }, room.last_message ? timeOf(room.last_message.created_at) : ""),
      );
    });
  list.replaceChildren(...(nodes.length ? nodes : [el("p", { class: "empty" }, filter ? "No conversation matches." : "No conversations yet — start one with “New group”.")]));
  const total = [...rooms.values()].reduce((sum, room) => sum + (room.unread_count || 0), 0);
  const base = currentId !== null && rooms.has(currentId) ? `${roomTitle(rooms.get(currentId))} · FastSock` : "FastSock";
  document.title = total ? `(${total}) ${base}` : base;
}

function setUnread(roomId, count) {
  const room = rooms.get(roomId);
  if (!room) return;
  room.unread_count = count;
  renderRooms();
}

async function onRoomChanged(room, membersChanged = false) {
  if (!rooms.has(room.id)) {
    // A room this user was just added to: its detail names the peer and the unread count.
    try {
      rooms.set(room.id, await api("GET", `/api/v1/rooms/${room.id}`));
    } catch {
      return; // removed again meanwhile
    }
    renderRooms();
    return;
  }
  const known = rooms.get(room.id);
  rooms.set(room.id, { ...known, ...room, title: room.kind === "group" ? room.name : known.title, peer: known.peer, unread_count: known.unread_count || 0, role: known.role });
  if (membersChanged) {
    views.delete(room.id);
    if (room.id === currentId) openRoom(room.id, { push: false, keepScroll: true });
  } else if (room.id === currentId) {
    renderHeader();
  }
  renderRooms();
}

function onMemberRemoved(data) {
  const room = data.room;
  if (data.user_id === me.id || (data.user && data.user.id === me.id)) {
    rooms.delete(room.id);
    views.delete(room.id);
    if (currentId === room.id) {
      showWelcome();
      toast(`You are no longer in ${roomTitle(room)}.`, "info");
    }
    renderRooms();
    return;
  }
  onRoomChanged(room, true);
}

// --- Opening a room -----------------------------------------------------------------------------

function showWelcome() {
  currentId = null;
  $("room-view").hidden = true;
  $("welcome").hidden = false;
  $("shell").dataset.roomOpen = "";
  history.replaceState(null, "", "/");
  renderRooms();
}

async function openRoom(roomId, { push = true, focusMessage = null, keepScroll = false } = {}) {
  if (!rooms.has(roomId)) return;
  const changed = currentId !== roomId;
  currentId = roomId;
  replyTo = null;
  editing = null;
  renderReply();
  $("welcome").hidden = true;
  $("room-view").hidden = false;
  $("shell").dataset.roomOpen = "1";
  if (push && changed) history.pushState({ roomId }, "", `/r/${roomId}/`);
  renderRooms();
  renderHeader();
  renderTyping();
  if (changed) groupCalls.roomOpened(roomId);
  const roomView = view(roomId);
  if (changed) $("messages").replaceChildren();
  try {
    if (!roomView.loaded || focusMessage) await loadRoom(roomId, focusMessage);
  } catch (error) {
    toast(error.message);
    return;
  }
  if (currentId !== roomId) return;
  renderHeader();
  renderTimeline();
  if (focusMessage) scrollToMessage(focusMessage);
  else if (!keepScroll) scrollToUnreadOrBottom();
  markReadSoon();
  if (changed && matchMedia("(min-width: 721px)").matches) $("composer-input").focus();
}

async function loadRoom(roomId, around) {
  const roomView = view(roomId);
  const [detail, page] = await Promise.all([
    api("GET", `/api/v1/rooms/${roomId}`),
    api("GET", around ? `/api/v1/history/room/${roomId}?before=${around + 1}&limit=${PAGE}` : `/api/v1/history/room/${roomId}?limit=${PAGE}`),
  ]);
  roomView.messages.clear();
  roomView.nodes.clear();
  roomView.members = new Map(detail.members.map((member) => [member.id, member]));
  const room = rooms.get(roomId);
  Object.assign(room, { ...detail, title: room.title || detail.title });
  if (room.peer) {
    // The detail's peer is a bare summary: presence and avatar live on the member entry.
    const peer = roomView.members.get(room.peer.id);
    if (peer) room.peer = { ...room.peer, online: peer.online, last_seen: peer.last_seen, avatar_url: peer.avatar_url };
  }
  roomView.firstUnreadId = null;
  if (room.unread_count && detail.last_read_message_id !== undefined) roomView.readUpTo = detail.last_read_message_id || 0;
  else roomView.readUpTo = null;
  page.results.forEach((message) => roomView.messages.set(message.id, message));
  roomView.hasOlder = page.has_more;
  roomView.hasNewer = false;
  if (around) {
    const newer = await api("GET", `/api/v1/history/room/${roomId}?after=${around}&limit=${PAGE}`);
    newer.results.forEach((message) => roomView.messages.set(message.id, message));
    roomView.hasNewer = newer.has_more;
  }
  roomView.loaded = true;
  reportDelivered(page.results);
}

async function loadOlder() {
  const roomView = view(currentId);
  if (!roomView.hasOlder || roomView.loadingOlder) return;
  const oldest = Math.min(...roomView.messages.keys());
  roomView.loadingOlder = true;
  $("history-loader").hidden = false;
  const timeline = $("timeline");
  const roomId = currentId;
  try {
    const page = await api("GET", `/api/v1/history/room/${roomId}?before=${oldest}&limit=${PAGE}`);
    if (roomId !== currentId) return;
    const before = timeline.scrollHeight;
    page.results.forEach((message) => roomView.messages.set(message.id, message));
    roomView.hasOlder = page.has_more;
    renderTimeline();
    timeline.scrollTop += timeline.scrollHeight - before; // keep the reading position
  } catch (error) {
    toast(error.message);
  } finally {
    roomView.loadingOlder = false;
    $("history-loader").hidden = true;
  }
}

async function loadNewer() {
  const roomView = view(currentId);
  if (!roomView.hasNewer || roomView.loadingNewer) return;
  roomView.loadingNewer = true;
  try {
    const newest = Math.max(...roomView.messages.keys());
    const page = await api("GET", `/api/v1/history/room/${currentId}?after=${newest}&limit=${PAGE}`);
    page.results.forEach((message) => roomView.messages.set(message.id, message));
    roomView.hasNewer = page.has_more;
    renderTimeline();
  } finally {
    roomView.loadingNewer = false;
  }
}

function renderHeader() {
  const room = rooms.get(currentId);
  if (!room) return;
  $("room-title").textContent = roomTitle(room);
  $("room-avatar").replaceWith(Object.assign(avatarFor(room), { id: "room-avatar" }));
  const roomView = view(currentId);
  let subtitle = "";
  if (room.kind === "direct" && room.peer) {
    const peer = roomView.members.get(room.peer.id) || room.peer;
    subtitle = peer.online ? "Online" : peer.last_seen ? `Last seen ${relativeTime(peer.last_seen)}` : "Offline";
  } else if (roomView.members.size) {
    const online = [...roomView.members.values()].filter((member) => member.online).length;
    subtitle = `${roomView.members.size} members${online ? ` · ${online} online` : ""}`;
  }
  $("room-subtitle").textContent = subtitle;
  $("call-buttons").hidden = room.kind !== "direct";
  groupCalls.renderBanner();
  if (!$("info-panel").hidden) renderInfo();
}

// --- The timeline -------------------------------------------------------------------------------

function memberName(roomView, userId) {
  if (userId === me.id) return "You";
  const member = roomView.members.get(userId);
  return member ? member.display_name : "Someone";
}

function tickState(roomView, message) {
  const others = [...roomView.members.values()].filter((member) => member.id !== me.id);
  if (!others.length) return "sent";
  if (others.every((member) => (member.last_read_message_id || 0) >= message.id)) return "read";
  if (others.every((member) => Math.max(member.last_delivered_message_id || 0, member.last_read_message_id || 0) >= message.id)) return "delivered";
  return "sent";
}

const TICKS = { sending: ["🕓", "Sending…"], sent: ["✓", "Sent"], delivered: ["✓✓", "Delivered"], read: ["✓✓", "Read"], failed: ["!", "Not sent"] };

function ticks(state) {
  const [symbol, label] = TICKS[state];
  return el("span", { class: `ticks ${state}`, title: label, "aria-label": label, dataset: { state } }, symbol);
}

function allMessages(roomView) {
  const list = [...roomView.messages.values()];
  const stored = new Set(list.map((message) => message.client_id).filter(Boolean));
  for (const pending of roomView.pending.values()) if (!stored.has(pending.client_id)) list.push(pending);
  return list.sort((a, b) => (a.id || Infinity) - (b.id || Infinity) || a.createdLocal - b.createdLocal);
}

function seenBy(roomView, list) {
  // Under the newest message someone else has read: who has read that far.
  for (let index = list.length - 1; index >= 0; index -= 1) {
    const message = list[index];
    if (!message.id) continue;
    const readers = [...roomView.members.values()].filter((member) => member.id !== me.id && member.id !== (message.sender && message.sender.id) && (member.last_read_message_id || 0) >= message.id);
    if (readers.length) return { messageId: message.id, names: readers.map((member) => member.display_name) };
  }
  return null;
}

function renderTimeline() {
  const roomView = view(currentId);
  const timeline = $("timeline");
  const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
  const list = allMessages(roomView);
  const seen = seenBy(roomView, list);
  const items = [];
  let previous = null;
  let dividerShown = false;
  for (const message of list) {
    const day = dayLabel(message.created_at);
    if (!previous || dayLabel(previous.created_at) !== day) items.push(el("li", { class: "day", role: "separator" }, el("span", {}, day)));
    const unreadStart = roomView.readUpTo !== null && roomView.readUpTo !== undefined && !dividerShown && message.id && message.id > roomView.readUpTo && message.sender && message.sender.id !== me.id;
    if (unreadStart) {
      dividerShown = true;
      items.push(el("li", { class: "unread-divider", id: "unread-divider", role: "separator" }, el("span", {}, "New messages")));
    }
    const grouped = previous && !unreadStart && previous.type !== "system" && message.type !== "system" && previous.sender && message.sender && previous.sender.id === message.sender.id && dayLabel(previous.created_at) === day && new Date(message.created_at) - new Date(previous.created_at) < 5 * 60000;
    items.push(messageNode(roomView, message, { grouped, seen: seen && seen.messageId === message.id ? seen.names : null }));
    previous = message;
  }
  if (!list.length) items.push(el("li", { class: "empty-room" }, "No messages yet. Say hi 👋"));
  $("messages").replaceChildren(...items);
  if (atBottom) timeline.scrollTop = timeline.scrollHeight;
  updateJumpButton();
}

function messageNode(roomView, message, { grouped, seen }) {
  const mine = message.sender && message.sender.id === me.id;
  const state = message.state || (mine ? tickState(roomView, message) : null);
  const key = message.id ? `m${message.id}` : `c${message.client_id}`;
  const signature = JSON.stringify([message, grouped, seen, state, editing === message.id, [...roomView.members.values()].map((m) => m.display_name)]);
  const cached = roomView.nodes.get(key);
  if (cached && cached.signature === signature) return cached.node;
  const node = buildMessage(roomView, message, { mine, grouped, seen, state });
  roomView.nodes.set(key, { signature, node });
  return node;
}

function buildMessage(roomView, message, { mine, grouped, seen, state }) {
  if (message.type === "system") {
    return el("li", { class: "system", dataset: { messageId: message.id } }, el("span", {}, message.content), el("time", { datetime: message.created_at }, timeOf(message.created_at)));
  }
  const classes = ["message", mine ? "mine" : "theirs", grouped ? "grouped" : "", message.deleted ? "deleted" : "", state === "failed" ? "failed" : ""].filter(Boolean).join(" ");
  const bubble = el("div", { class: "bubble" });
  const room = rooms.get(message.room_id);
  if (!grouped && !mine && message.sender && room && room.kind === "group") bubble.append(el("div", { class: "sender" }, message.sender.display_name));
  if (message.reply_to) {
    bubble.append(el("blockquote", { class: "quote", dataset: { jump: message.reply_to.id } }, el("strong", {}, message.reply_to.sender ? message.reply_to.sender.display_name : ""), el("span", {}, message.reply_to.deleted ? "Message deleted" : message.reply_to.content)));
  }
  if (message.deleted) {
    bubble.append(el("p", { class: "text tombstone" }, "This message was deleted."));
  } else if (editing === message.id) {
    const box = el("textarea", { class: "edit-box", "aria-label": "Edit message", rows: 2 });
    box.value = message.content;
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        saveEdit(message, box.value);
      } else if (event.key === "Escape") {
        editing = null;
        renderTimeline();
      }
    });
    bubble.append(box, el("div", { class: "edit-hint" }, "Enter to save · Esc to cancel"));
    setTimeout(() => box.focus(), 0);
  } else {
    if (message.attachment) bubble.append(attachmentNode(message.attachment));
    if (message.content) bubble.append(el("p", { class: "text" }, linkify(message.content)));
  }
  const meta = el("div", { class: "meta" }, el("time", { datetime: message.created_at, title: new Date(message.created_at).toLocaleString() }, timeOf(message.created_at)));
  if (message.edited_at && !message.deleted) meta.prepend(el("span", { class: "edited" }, "edited"));
  if (message.type === "sms") meta.prepend(el("span", { class: "sms-tag", title: "Came in as a text message" }, "SMS"));
  if (mine && state) meta.append(ticks(state));
  bubble.append(meta);
  if (message.reactions && message.reactions.length) {
    bubble.append(
      el(
        "div",
        { class: "reactions" },
        message.reactions.map((reaction) => {
          const mineReaction = reaction.user_ids ? reaction.user_ids.includes(me.id) : reaction.me;
          const who = (reaction.user_ids || []).map((id) => memberName(roomView, id)).join(", ");
          return el("button", { class: `reaction${mineReaction ? " me" : ""}`, type: "button", title: who ? `${who} reacted with ${reaction.emoji}` : reaction.emoji, "aria-pressed": mineReaction ? "true" : "false", dataset: { emoji: reaction.emoji }, onclick: () => toggleReaction(message, reaction.emoji, !mineReaction) }, `${reaction.emoji} ${reaction.count}`);
        }),
      ),
    );
  }
  const actions = message.id && !message.deleted && editing !== message.id
    ? el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "icon-button", "aria-label": "Add reaction", title: "React", onclick: (event) => openEmojiPicker(message, event.currentTarget) }, "☺"),
        el("button", { type: "button", class: "icon-button", "aria-label": "Message actions", title: "More", "aria-haspopup": "menu", onclick: (event) => openMenu(message, event.currentTarget) }, "⋯"),
      )
    : null;
  const node = el("li", { class: classes, dataset: { messageId: message.id || "", clientId: message.client_id || "" } }, bubble, actions);
  if (state === "failed") {
    node.append(el("div", { class: "failure", role: "alert" }, el("span", {}, message.error || "Not sent."), el("button", { type: "button", class: "link-button", onclick: () => retrySend(message) }, "Retry"), el("button", { type: "button", class: "link-button", onclick: () => discardSend(message) }, "Discard")));
  }
  if (seen) node.append(el("div", { class: "seen-by" }, `Seen by ${seen.join(", ")}`));
  node.addEventListener("contextmenu", (event) => {
    if (!message.id || message.deleted) return;
    event.preventDefault();
    openMenu(message, null, event.clientX, event.clientY);
  });
  return node;
}

function attachmentNode(attachment) {
  if (attachment.kind === "image") {
    const img = el("img", { src: attachment.thumbnail_url || attachment.url, alt: attachment.name, class: "thumb" });
    if (attachment.width && attachment.height) {
      // Reserve the space up front, so that the timeline does not jump when the image arrives.
      const scale = Math.min(1, 320 / attachment.width, 320 / attachment.height);
      img.width = Math.round(attachment.width * scale);
      img.height = Math.round(attachment.height * scale);
    }
    img.addEventListener("load", () => {
      if (pinnedToBottom) $("timeline").scrollTop = $("timeline").scrollHeight;
    });
    return el("button", { type: "button", class: "image-link", "aria-label": `Open image ${attachment.name}`, onclick: () => openLightbox(attachment) }, img);
  }
  return el("a", { class: "file-card", href: attachment.url, download: attachment.name }, el("span", { class: "file-icon", "aria-hidden": "true" }, "📄"), el("span", { class: "file-text" }, el("strong", {}, attachment.name), el("small", {}, `${sizeText(attachment.size)} · ${attachment.content_type}`)));
}

function openLightbox(attachment) {
  const box = $("lightbox");
  box.querySelector("img").src = attachment.url;
  box.querySelector("img").alt = attachment.name;
  box.querySelector(".caption").textContent = attachment.name;
  box.querySelector("a").href = attachment.url;
  box.showModal();
}

function scrollToUnreadOrBottom() {
  const timeline = $("timeline");
  const divider = $("unread-divider");
  if (divider) divider.scrollIntoView({ block: "center" });
  else timeline.scrollTop = timeline.scrollHeight;
}

function scrollToMessage(messageId) {
  const node = $("messages").querySelector(`[data-message-id="${messageId}"]`);
  if (!node) return;
  node.scrollIntoView({ block: "center" });
  node.classList.add("flash");
  setTimeout(() => node.classList.remove("flash"), 2000);
}

function updateJumpButton() {
  const timeline = $("timeline");
  const far = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight > timeline.clientHeight;
  $("jump-latest").hidden = !(far || view(currentId).hasNewer);
}

// --- Live messages ------------------------------------------------------------------------------

function storeMessage(message) {
  const roomView = view(message.room_id);
  if (message.client_id) roomView.pending.delete(message.client_id);
  if (roomView.loaded && (!roomView.hasNewer || roomView.messages.has(message.id))) roomView.messages.set(message.id, message);
  const room = rooms.get(message.room_id);
  if (room && (!room.last_message || room.last_message.id <= message.id)) {
    room.last_message = message;
    if (!message.edited_at && !message.deleted) room.last_activity_at = message.created_at;
    renderRooms();
  }
  if (message.room_id === currentId) renderTimeline();
}

function onNewMessage(message) {
  const fresh = !view(message.room_id).messages.has(message.id);
  storeMessage(message);
  if (!message.sender || message.sender.id === me.id) return;
  reportDelivered([message]);
  if (message.room_id === currentId) markReadSoon();
  if (fresh && (document.hidden || !document.hasFocus())) notify(message);
}

let deliveredQueue = [];
let deliveredTimer = null;

function reportDelivered(messages) {
  for (const message of messages) if (message.sender && message.sender.id !== me.id) deliveredQueue.push(message.id);
  if (!deliveredQueue.length || deliveredTimer) return;
  deliveredTimer = setTimeout(() => {
    const ids = deliveredQueue.splice(0).slice(-500);
    deliveredTimer = null;
    socket.send("message.delivered", { message_ids: ids });
  }, 150);
}

let readTimer = null;

function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, 300);
}

function latestInView() {
  const nodes = $("messages").querySelectorAll("li.message[data-message-id]:not([data-message-id='']), li.system");
  const latest = nodes[nodes.length - 1];
  if (!latest) return true;
  const box = latest.getBoundingClientRect();
  const frame = $("timeline").getBoundingClientRect();
  return box.top < frame.bottom - 8 && box.bottom > frame.top;
}

function markRead() {
  // Read means seen: the room is open, the tab visible and focused, the latest message in view.
  if (currentId === null || document.hidden || !document.hasFocus()) return;
  const roomView = view(currentId);
  if (roomView.hasNewer || !latestInView()) return;
  const ids = [...roomView.messages.keys()];
  if (!ids.length) return;
  const latest = Math.max(...ids);
  const mine = roomView.members.get(me.id);
  if (mine && (mine.last_read_message_id || 0) >= latest && !(rooms.get(currentId) || {}).unread_count) return;
  if (mine) mine.last_read_message_id = latest;
  socket.sendIfOpen("message.read", { room_id: currentId, message_id: latest });
}

function onWatermark({ room_id, user_id, message_id }, field) {
  const roomView = views.get(room_id);
  if (!roomView) return;
  const member = roomView.members.get(user_id);
  if (!member) return;
  member[field] = Math.max(member[field] || 0, message_id);
  if (room_id === currentId) renderTimeline();
}

function onReaction({ message_id, room_id, reactions }) {
  const roomView = views.get(room_id);
  const message = roomView && roomView.messages.get(message_id);
  if (!message) return;
  message.reactions = reactions.map((reaction) => ({ ...reaction, me: reaction.user_ids.includes(me.id) }));
  roomView.messages.set(message_id, { ...message });
  if (room_id === currentId) renderTimeline();
}

function onPresence({ user_id, online, last_seen }) {
  for (const room of rooms.values()) if (room.peer && room.peer.id === user_id) Object.assign(room.peer, { online, last_seen });
  for (const roomView of views.values()) {
    const member = roomView.members.get(user_id);
    if (member) Object.assign(member, { online, last_seen });
  }
  renderRooms();
  if (currentId !== null) renderHeader();
}

// --- Typing -------------------------------------------------------------------------------------

function onTyping({ room_id, user_id, active }) {
  if (user_id === me.id) return;
  if (!typingNow.has(room_id)) typingNow.set(room_id, new Map());
  const typers = typingNow.get(room_id);
  clearTimeout(typers.get(user_id));
  if (active) typers.set(user_id, setTimeout(() => onTyping({ room_id, user_id, active: false }), TYPING_SHOWN_MS));
  else typers.delete(user_id);
  if (room_id === currentId) renderTyping();
}

function renderTyping() {
  const typers = [...(typingNow.get(currentId) || new Map()).keys()];
  const roomView = view(currentId);
  const names = typers.map((id) => memberName(roomView, id));
  const text = !names.length ? "" : names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";
  $("typing").textContent = text;
}

let typingSentAt = 0;
let typingRoom = null;
let typingIdle = null;

function typed() {
  if (currentId === null) return;
  const now = Date.now();
  if (typingRoom !== currentId || now - typingSentAt > limits.typing_repeat_seconds * 1000) {
    if (typingRoom !== null && typingRoom !== currentId) stopTyping();
    typingRoom = currentId;
    typingSentAt = now;
    socket.sendIfOpen("typing.start", { room_id: currentId });
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingRoom === null) return;
  socket.sendIfOpen("typing.stop", { room_id: typingRoom });
  typingRoom = null;
  typingSentAt = 0;
}

// --- Sending --------------------------------------------------------------------------------------

function newClientId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function sendFrame(pending) {
  pending.sentAt = Date.now();
  const data = { room_id: pending.room_id, content: pending.content, client_id: pending.client_id };
  if (pending.attachment_id) Object.assign(data, { attachment_id: pending.attachment_id, type: pending.type });
  if (pending.reply_to) data.reply_to = pending.reply_to.id;
  socket.send("message.send", data, pending.client_id.slice(0, 64));
}

function sendMessage({ content = "", attachment = null }) {
  const roomId = currentId;
  const pending = {
    client_id: newClientId(),
    room_id: roomId,
    content,
    type: attachment ? attachment.kind === "image" ? "image" : "file" : "text",
    attachment,
    attachment_id: attachment ? attachment.id : null,
    reply_to: replyTo,
    sender: { id: me.id, username: me.username, display_name: me.display_name },
    created_at: new Date().toISOString(),
    createdLocal: performance.now(),
    reactions: [],
    state: "sending",
  };
  view(roomId).pending.set(pending.client_id, pending);
  replyTo = null;
  renderReply();
  stopTyping();
  sendFrame(pending);
  renderTimeline();
  $("timeline").scrollTop = $("timeline").scrollHeight;
}

function retrySend(pending) {
  pending.state = "sending";
  pending.error = null;
  sendFrame(pending);
  renderTimeline();
}

function discardSend(pending) {
  view(pending.room_id).pending.delete(pending.client_id);
  renderTimeline();
}

function composerSubmit(event) {
  event.preventDefault();
  const input = $("composer-input");
  const content = input.value.trim();
  if (!content || currentId === null) return;
  if (content.length > limits.message_max_length) {
    toast(`A message can be at most ${limits.message_max_length.toLocaleString()} characters.`);
    return;
  }
  input.value = "";
  autosize();
  sendMessage({ content });
}

function autosize() {
  const input = $("composer-input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 180)}px`;
}

function renderReply() {
  const box = $("reply-preview");
  box.hidden = !replyTo;
  if (replyTo) box.querySelector("span").textContent = `Replying to ${replyTo.sender ? replyTo.sender.display_name : ""}: ${replyTo.content.slice(0, 120)}`;
}

// --- Edit, delete, reactions (optimistic, rolled back if refused) ------------------------------------

async function optimistic(message, change, request) {
  const roomView = view(message.room_id);
  const before = roomView.messages.get(message.id);
  roomView.messages.set(message.id, { ...before, ...change });
  renderTimeline();
  try {
    const saved = await request();
    if (saved && saved.id) roomView.messages.set(saved.id, { ...roomView.messages.get(saved.id), ...saved });
  } catch (error) {
    roomView.messages.set(message.id, before);
    toast(`Could not update the message: ${error.message}`);
  }
  if (message.room_id === currentId) renderTimeline();
}

function saveEdit(message, content) {
  editing = null;
  const text = content.trim();
  if (!text || text === message.content) {
    renderTimeline();
    return;
  }
  optimistic(message, { content: text, edited_at: new Date().toISOString() }, () => api("PATCH", `/api/v1/messages/${message.id}`, { content: text }));
}

function deleteMessage(message) {
  optimistic(message, { deleted: true, content: "", attachment: null, reactions: [] }, () => api("DELETE", `/api/v1/messages/${message.id}`));
}

function toggleReaction(message, emoji, on) {
  const reactions = (message.reactions || []).map((reaction) => ({ ...reaction, user_ids: [...(reaction.user_ids || [])] }));
  let entry = reactions.find((reaction) => reaction.emoji === emoji);
  if (on) {
    if (!entry) reactions.push((entry = { emoji, count: 0, me: false, user_ids: [] }));
    entry.count += 1;
    entry.me = true;
    entry.user_ids.push(me.id);
  } else if (entry) {
    entry.count -= 1;
    entry.me = false;
    entry.user_ids = entry.user_ids.filter((id) => id !== me.id);
  }
  const next = reactions.filter((reaction) => reaction.count > 0);
  const url = `/api/v1/messages/${message.id}/reactions`;
  optimistic(message, { reactions: next }, async () => {
    const result = on ? await api("POST", url, { emoji }) : await api("DELETE", `${url}/${encodeURIComponent(emoji)}`);
    return result && result.reactions ? { id: message.id, reactions: result.reactions } : null;
  });
}

function canDelete(message) {
  if (message.sender && message.sender.id === me.id) return true;
  const room = rooms.get(message.room_id);
  return room && (room.role === "owner" || room.role === "admin");
}

function openMenu(message, anchor, x, y) {
  const items = [["Reply", () => startReply(message)], ["React…", () => openEmojiPicker(message, anchor || document.querySelector(`[data-message-id="${message.id}"] .bubble`))]];
  if (message.content) items.push(["Copy text", () => navigator.clipboard && navigator.clipboard.writeText(message.content)]);
  if (message.sender && message.sender.id === me.id && message.type === "text") items.push(["Edit", () => startEdit(message)]);
  if (canDelete(message)) items.push(["Delete", () => deleteMessage(message), "danger"]);
  showPopover($("menu"), items.map(([label, action, kind]) => el("button", { type: "button", role: "menuitem", class: kind || "", onclick: () => { closePopovers(); action(); } }, label)), anchor, x, y);
}

function openEmojiPicker(message, anchor) {
  const buttons = REACTIONS.map((emoji) => el("button", { type: "button", role: "menuitem", "aria-label": `React with ${emoji}`, onclick: () => { closePopovers(); const mine = (message.reactions || []).find((r) => r.emoji === emoji && (r.user_ids ? r.user_ids.includes(me.id) : r.me)); toggleReaction(view(message.room_id).messages.get(message.id) || message, emoji, !mine); } }, emoji));
  showPopover($("emoji-picker"), buttons, anchor);
}

let popoverReturnFocus = null;

function showPopover(popover, children, anchor, x, y) {
  closePopovers();
  popoverReturnFocus = document.activeElement;
  popover.replaceChildren(...children);
  popover.hidden = false;
  const rect = anchor ? anchor.getBoundingClientRect() : { left: x, bottom: y, top: y, right: x };
  const width = popover.offsetWidth;
  const height = popover.offsetHeight;
  popover.style.left = `${Math.max(8, Math.min(rect.right - width, innerWidth - width - 8))}px`;
  popover.style.top = `${rect.bottom + height + 8 > innerHeight ? Math.max(8, rect.top - height - 4) : rect.bottom + 4}px`;
  const first = popover.querySelector("button");
  if (first) first.focus();
}

function closePopovers() {
  for (const id of ["menu", "emoji-picker"]) $(id).hidden = true;
  if (popoverReturnFocus && document.contains(popoverReturnFocus)) popoverReturnFocus.focus();
  popoverReturnFocus = null;
}

function startReply(message) {
  replyTo = message;
  renderReply();
  $("composer-input").focus();
}

function startEdit(message) {
  editing = message.id;
  renderTimeline();
}

// --- Attachments ----------------------------------------------------------------------------------

function attachFiles(files) {
  if (currentId === null) return;
  for (const file of files) startUpload(file, currentId);
}

function startUpload(file, roomId) {
  const card = el("div", { class: "upload", role: "group", "aria-label": `Uploading ${file.name}` });
  const bar = el("progress", { max: 100, value: 0, "aria-label": `Upload progress for ${file.name}` });
  const status = el("span", { class: "upload-status" }, "Starting…");
  const preview = file.type.startsWith("image/") ? el("img", { src: URL.createObjectURL(file), alt: "", class: "upload-preview" }) : el("span", { class: "file-icon" }, "📄");
  const cancel = el("button", { type: "button", class: "link-button" }, "Cancel");
  card.append(preview, el("div", { class: "upload-body" }, el("strong", {}, file.name || "Pasted file"), bar, status), cancel);
  $("uploads").append(card);
  if (file.size > limits.upload_max_bytes) {
    fail(`Too large: ${sizeText(file.size)} (the limit is ${sizeText(limits.upload_max_bytes)}).`, false);
    return;
  }
  run();

  function run() {
    card.classList.remove("failed");
    const { promise, abort } = uploadFile(file, (fraction) => {
      bar.value = Math.round(fraction * 100);
      status.textContent = fraction < 1 ? `${Math.round(fraction * 100)} %` : "Processing…";
    });
    cancel.textContent = "Cancel";
    cancel.onclick = abort;
    promise.then(
      (attachment) => {
        card.remove();
        if (currentId === roomId) sendMessage({ attachment });
      },
      (error) => {
        if (error.code === "canceled") card.remove();
        else fail(error.message, error.status === 0 || error.status >= 500);
      },
    );
  }

  function fail(message, retryable) {
    card.classList.add("failed");
    status.textContent = message;
    status.setAttribute("role", "alert");
    const actions = [el("button", { type: "button", class: "link-button", onclick: () => card.remove() }, "Dismiss")];
    if (retryable) actions.unshift(el("button", { type: "button", class: "link-button", onclick: () => { actions.forEach((a) => a.remove()); card.append(cancel); run(); } }, "Retry"));
    cancel.remove();
    card.append(...actions);
  }
}

// --- Search -------------------------------------------------------------------------------------------

async function search(query) {
  const panel = $("search-panel");
  const results = $("search-results");
  panel.hidden = false;
  $("info-panel").hidden = true;
  results.replaceChildren(el("p", { class: "muted" }, "Searching…"));
  try {
    const page = await api("GET", `/api/v1/search?q=${encodeURIComponent(query)}&limit=30`);
    if (!page.results.length) {
      results.replaceChildren(el("p", { class: "muted" }, `Nothing found for “${query}”.`));
      return;
    }
    results.replaceChildren(
      ...page.results.map((hit) =>
        el(
          "button",
          { type: "button", class: "search-hit", onclick: () => openRoom(hit.room_id, { focusMessage: hit.message.id }) },
          el("span", { class: "hit-head" }, el("strong", {}, rooms.has(hit.room_id) ? roomTitle(rooms.get(hit.room_id)) : "Room"), el("small", {}, `${hit.message.sender ? hit.message.sender.display_name : ""} · ${new Date(hit.message.created_at).toLocaleDateString()}`)),
          el("span", { class: "hit-text" }, highlighted(hit.highlight)),
        ),
      ),
    );
  } catch (error) {
    results.replaceChildren(el("p", { class: "form-error", role: "alert" }, error.message));
  }
}

// --- Room info panel -----------------------------------------------------------------------------------

let infoInputs = null; // the room info panel's inputs, kept while it shows one room

function renderInfo() {
  const room = rooms.get(currentId);
  const roomView = view(currentId);
  const body = $("info-body");
  if (!room) return;
  // Live updates redraw the panel; what the person is typing there must survive them.
  if (!infoInputs || infoInputs.roomId !== room.id) infoInputs = { roomId: room.id };
  const manager = room.role === "owner" || room.role === "admin";
  const parts = [];
  if (room.kind === "group" && manager) {
    const name = infoInputs.name || el("input", { id: "rename-input", value: room.name, maxlength: 80, "aria-label": "Room name" });
    infoInputs.name = name;
    const error = el("p", { class: "form-error", role: "alert" });
    parts.push(
      el(
        "form",
        { class: "rename", onsubmit: async (event) => { event.preventDefault(); error.textContent = ""; try { onRoomChanged(await api("PATCH", `/api/v1/rooms/${room.id}`, { name: name.value.trim() })); toast("Room renamed.", "info"); } catch (e) { error.textContent = (e.details.name && e.details.name[0]) || e.message; } } },
        el("label", { for: "rename-input" }, "Name"),
        el("div", { class: "row" }, name, el("button", { type: "submit", class: "button ghost" }, "Save")),
        error,
      ),
    );
  } else {
    parts.push(el("h3", {}, roomTitle(room)));
  }
  const members = [...roomView.members.values()].sort((a, b) => a.display_name.localeCompare(b.display_name));
  parts.push(el("h4", {}, `Members · ${members.length}`));
  parts.push(
    el(
      "ul",
      { class: "members" },
      members.map((member) =>
        el(
          "li",
          {},
          el("span", { class: "avatar small", "aria-hidden": "true" }, member.avatar_url ? el("img", { src: member.avatar_url, alt: "" }) : initial(member.display_name), el("span", { class: `dot ${member.online ? "online" : ""}` })),
          el("span", { class: "member-name" }, member.display_name, el("small", {}, `@${member.username}${member.online ? " · online" : ""}`)),
          el("span", { class: `role ${member.role}` }, member.role),
          member.id !== me.id && room.kind === "group" ? el("button", { type: "button", class: "link-button", "aria-label": `Message ${member.display_name}`, onclick: () => messagePerson(member) }, "Message") : null,
          manager && room.kind === "group" && member.id !== me.id && member.role !== "owner" ? el("button", { type: "button", class: "link-button danger", "aria-label": `Remove ${member.display_name}`, onclick: () => removeMember(room, member) }, "Remove") : null,
        ),
      ),
    ),
  );
  if (room.kind === "group" && manager) {
    parts.push(el("h4", {}, "Add people"));
    infoInputs.picker = infoInputs.picker || peoplePicker({ exclude: () => new Set(view(room.id).members.keys()), onPick: (user) => addMembers(room, [user]), label: "Find people to add" });
    parts.push(infoInputs.picker);
  }
  if (room.kind === "group") {
    const confirm = el("div", { class: "confirm", hidden: true }, el("p", {}, `Leave ${roomTitle(room)}? You will stop getting its messages.`), el("button", { type: "button", class: "button danger", onclick: () => leaveRoom(room) }, "Leave"), el("button", { type: "button", class: "button ghost", onclick: () => { confirm.hidden = true; } }, "Stay"));
    parts.push(el("button", { type: "button", class: "button ghost danger leave", onclick: () => { confirm.hidden = false; } }, "Leave room"), confirm);
  }
  body.replaceChildren(...parts);
}

async function addMembers(room, users) {
  try {
    await api("POST", `/api/v1/rooms/${room.id}/members`, { user_ids: users.map((user) => user.id) });
    views.delete(room.id);
    await openRoom(room.id, { push: false, keepScroll: true });
    renderInfo();
  } catch (error) {
    toast(error.message);
  }
}

async function removeMember(room, member) {
  try {
    await api("DELETE", `/api/v1/rooms/${room.id}/members/${member.id}`);
    view(room.id).members.delete(member.id);
    renderInfo();
    renderHeader();
  } catch (error) {
    toast(error.message);
  }
}

async function leaveRoom(room) {
  try {
    await api("DELETE", `/api/v1/rooms/${room.id}/members/${me.id}`);
    rooms.delete(room.id);
    views.delete(room.id);
    $("info-panel").hidden = true;
    showWelcome();
  } catch (error) {
    toast(error.message);
  }
}

function openDirectRoom(room) {
  if (!rooms.has(room.id)) rooms.set(room.id, room);
  openRoom(room.id);
}

async function messagePerson(member) {
  try {
    openDirectRoom(await api("POST", "/api/v1/rooms/direct", { user_id: member.id }));
  } catch (error) {
    toast(error.message);
  }
}

// --- Notifications ----------------------------------------------------------------------------------------

function notify(message) {
  notifyCount += 1;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const room = rooms.get(message.room_id);
  const title = room && room.kind === "group" ? `${message.sender.display_name} in ${roomTitle(room)}` : message.sender.display_name;
  const body = message.attachment ? (message.attachment.kind === "image" ? "📷 Photo" : `📎 ${message.attachment.name}`) : message.content.slice(0, 200);
  const notification = new Notification(title, { body, tag: `room-${message.room_id}` });
  notification.onclick = () => {
    window.focus();
    openRoom(message.room_id);
    notification.close();
  };
}

function setUpNotificationBanner() {
  const banner = $("notify-banner");
  const supported = "Notification" in window;
  banner.hidden = !supported || Notification.permission !== "default" || localStorage.getItem("fastsock.notify.dismissed") === "1";
  $("notify-enable").onclick = async () => {
    banner.hidden = true;
    const answer = await Notification.requestPermission();
    if (answer === "granted") toast("Desktop notifications are on.", "info");
  };
  $("notify-dismiss").onclick = () => {
    banner.hidden = true;
    localStorage.setItem("fastsock.notify.dismissed", "1");
  };
}

// --- Wiring ---------------------------------------------------------------------------------------------

function wire() {
  $("room-list").addEventListener("click", (event) => {
    const link = event.target.closest("a.room");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    openRoom(Number(link.dataset.roomId));
  });
  $("room-filter").addEventListener("input", renderRooms);
  $("composer").addEventListener("submit", composerSubmit);
  const input = $("composer-input");
  input.setAttribute("maxlength", limits.message_max_length);
  input.addEventListener("input", () => {
    autosize();
    if (input.value.trim()) typed();
    else stopTyping();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    } else if (event.key === "ArrowUp" && !input.value) {
      const mine = allMessages(view(currentId)).filter((m) => m.id && !m.deleted && m.type === "text" && m.sender && m.sender.id === me.id).pop();
      if (mine) {
        event.preventDefault();
        startEdit(mine);
      }
    } else if (event.key === "Escape" && replyTo) {
      replyTo = null;
      renderReply();
    }
  });
  input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    if (files.length) {
      event.preventDefault();
      attachFiles(files);
    }
  });
  $("reply-preview").querySelector("button").addEventListener("click", () => {
    replyTo = null;
    renderReply();
  });
  $("attach").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (event) => {
    attachFiles([...event.target.files]);
    event.target.value = "";
  });
  const roomView = $("room-view");
  let dragDepth = 0;
  roomView.addEventListener("dragenter", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    dragDepth += 1;
    $("drop-overlay").hidden = false;
  });
  roomView.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) $("drop-overlay").hidden = true;
  });
  roomView.addEventListener("dragover", (event) => event.preventDefault());
  roomView.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    $("drop-overlay").hidden = true;
    attachFiles([...event.dataTransfer.files]);
  });
  const timeline = $("timeline");
  timeline.addEventListener("scroll", () => {
    pinnedToBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
    if (timeline.scrollTop < 150) loadOlder();
    if (timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 150) {
      loadNewer();
      markReadSoon();
    }
    updateJumpButton();
  });
  timeline.addEventListener("click", (event) => {
    const quote = event.target.closest("[data-jump]");
    if (quote) openRoom(currentId, { focusMessage: Number(quote.dataset.jump) });
  });
  $("jump-latest").addEventListener("click", async () => {
    const current = view(currentId);
    if (current.hasNewer) {
      current.loaded = false;
      await openRoom(currentId, { push: false });
    }
    timeline.scrollTop = timeline.scrollHeight;
    markReadSoon();
  });
  $("conn-retry").addEventListener("click", () => socket.retryNow());
  $("back-to-rooms").addEventListener("click", showWelcome);
  $("info-toggle").addEventListener("click", () => {
    const panel = $("info-panel");
    panel.hidden = !panel.hidden;
    $("search-panel").hidden = true;
    $("info-toggle").setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) renderInfo();
  });
  $("info-close").addEventListener("click", () => { $("info-panel").hidden = true; $("info-toggle").setAttribute("aria-expanded", "false"); });
  $("search-close").addEventListener("click", () => { $("search-panel").hidden = true; });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("search-input").value.trim();
    if (query) search(query);
  });
  $("new-direct").addEventListener("click", () => openDirectModal(openDirectRoom));
  $("call-audio").addEventListener("click", () => calls.start(currentId, "audio"));
  $("call-video").addEventListener("click", () => calls.start(currentId, "video"));
  $("new-group").addEventListener("click", () =>
    openGroupModal((room) => {
      rooms.set(room.id, { ...room, unread_count: 0 });
      openRoom(room.id);
    }),
  );
  $("lightbox").addEventListener("click", (event) => {
    if (event.target === $("lightbox") || event.target.closest(".close")) $("lightbox").close();
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".popover") && !event.target.closest(".actions")) closePopovers();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      if (!$("menu").hidden || !$("emoji-picker").hidden) closePopovers();
      else if (!$("search-panel").hidden) $("search-panel").hidden = true;
      else if (!$("info-panel").hidden) $("info-panel").hidden = true;
    }
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
      event.preventDefault();
      $("room-filter").focus();
    }
  });
  for (const popover of [$("menu"), $("emoji-picker")]) {
    popover.addEventListener("keydown", (event) => {
      if (!["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"].includes(event.key)) return;
      event.preventDefault();
      const buttons = [...popover.querySelectorAll("button")];
      const index = buttons.indexOf(document.activeElement);
      const step = event.key === "ArrowDown" || event.key === "ArrowRight" ? 1 : -1;
      buttons[(index + step + buttons.length) % buttons.length].focus();
    });
  }
  window.addEventListener("popstate", () => {
    const match = location.pathname.match(/^\/r\/(\d+)\//);
    if (match) openRoom(Number(match[1]), { push: false });
    else showWelcome();
  });
  window.addEventListener("focus", markReadSoon);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      notifyCount = 0;
      markReadSoon();
    }
  });
  setInterval(() => currentId !== null && renderHeader(), 60000);
}

wire();
setUpNotificationBanner();
renderRooms();
socket.connect();
if (boot.current_room_id !== null && rooms.has(boot.current_room_id)) openRoom(boot.current_room_id, { push: false });
// For the browser tests and the curious: the page's live state, read-only by convention.
window.fastsock = { rooms, views, socket, calls, groupCalls };
