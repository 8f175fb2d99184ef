// People search (GET /api/v1/users?search=) as a picker, and the "New group" modal built on it.

import { api } from "./api.js";
import { el, initial } from "./format.js";

/** A search box whose results can be picked; ``exclude()`` gives ids not to offer. */
export function peoplePicker({ exclude, onPick, label }) {
  const input = el("input", { type: "search", class: "people-search", placeholder: "Search by name or username", "aria-label": label, autocomplete: "off" });
  const list = el("ul", { class: "people-results", role: "listbox", "aria-label": "Matching people" });
  let timer = null;
  let asked = 0;
  async function lookUp() {
    const query = input.value.trim();
    const ticket = ++asked;
    if (!query) {
      list.replaceChildren();
      return;
    }
    try {
      const page = await api("GET", `/api/v1/users?search=${encodeURIComponent(query)}&limit=8`);
      if (ticket !== asked) return; // a newer search is on its way
      const skip = exclude();
      const people = page.results.filter((user) => !skip.has(user.id));
      list.replaceChildren(
        ...(people.length
          ? people.map((user) =>
              el(
                "li",
                {},
                el(
                  "button",
                  { type: "button", role: "option", class: "person", onclick: () => { onPick(user); input.value = ""; list.replaceChildren(); input.focus(); } },
                  el("span", { class: "avatar small", "aria-hidden": "true" }, user.avatar_url ? el("img", { src: user.avatar_url, alt: "" }) : initial(user.display_name)),
                  el("span", { class: "member-name" }, user.display_name, el("small", {}, `@${user.username}`)),
                ),
              ),
            )
          : [el("li", { class: "muted" }, "Nobody matches.")]),
      );
    } catch (error) {
      list.replaceChildren(el("li", { class: "form-error", role: "alert" }, error.message));
    }
  }
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(lookUp, 200);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = list.querySelector("button");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button")];
    const index = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && index < buttons.length - 1) buttons[index + 1].focus();
    else if (event.key === "ArrowUp") (index > 0 ? buttons[index - 1] : input).focus();
    else return;
    event.preventDefault();
  });
  return el("div", { class: "people-picker" }, input, list);
}

/** The "New group" dialog: a name, chosen people as chips, errors inline. */
export function openGroupModal(onCreated) {
  const dialog = document.getElementById("group-modal");
  const chosen = new Map();
  const name = dialog.querySelector("#group-name");
  const chips = dialog.querySelector(".chips");
  const nameError = dialog.querySelector("#group-name-error");
  const membersError = dialog.querySelector("#group-members-error");
  const formError = dialog.querySelector("#group-form-error");
  const submit = dialog.querySelector("button[type=submit]");
  name.value = "";
  [nameError, membersError, formError].forEach((node) => { node.textContent = ""; });

  function renderChips() {
    chips.replaceChildren(
      ...[...chosen.values()].map((user) =>
        el("span", { class: "chip" }, user.display_name, el("button", { type: "button", "aria-label": `Remove ${user.display_name}`, onclick: () => { chosen.delete(user.id); renderChips(); } }, "×")),
      ),
    );
    submit.textContent = chosen.size ? `Create group with ${chosen.size} ${chosen.size === 1 ? "person" : "people"}` : "Create group";
  }

  const picker = peoplePicker({
    exclude: () => new Set(chosen.keys()),
    onPick: (user) => { chosen.set(user.id, user); membersError.textContent = ""; renderChips(); },
    label: "Add people",
  });
  picker.querySelector("input").id = "group-people";
  dialog.querySelector(".picker-slot").replaceChildren(picker);
  picker.querySelector("input").addEventListener("keydown", (event) => {
    if (event.key === "Backspace" && !event.target.value && chosen.size) {
      chosen.delete([...chosen.keys()].pop());
      renderChips();
    }
  });
  renderChips();

  dialog.querySelector("form").onsubmit = async (event) => {
    event.preventDefault();
    [nameError, membersError, formError].forEach((node) => { node.textContent = ""; });
    let valid = true;
    if (!name.value.trim()) {
      nameError.textContent = "Give the group a name.";
      valid = false;
    }
    if (!chosen.size) {
      membersError.textContent = "Add at least one person.";
      valid = false;
    }
    if (!valid) return;
    submit.disabled = true;
    try {
      const room = await api("POST", "/api/v1/rooms", { name: name.value.trim(), member_ids: [...chosen.keys()] });
      dialog.close();
      onCreated(room);
    } catch (error) {
      const details = error.details || {};
      if (details.name) nameError.textContent = details.name.join(" ");
      if (details.member_ids) membersError.textContent = details.member_ids.join(" ");
      if (!details.name && !details.member_ids) formError.textContent = error.message;
    } finally {
      submit.disabled = false;
    }
  };
  dialog.querySelector(".cancel").onclick = () => dialog.close();
  dialog.showModal();
  name.focus();
}

/** The "New message" dialog: pick one person, get (or start) your direct room with them. */
export function openDirectModal(onOpened) {
  const dialog = document.getElementById("direct-modal");
  const error = dialog.querySelector("#direct-error");
  error.textContent = "";
  const picker = peoplePicker({
    exclude: () => new Set(),
    label: "Find a person",
    onPick: async (user) => {
      try {
        const room = await api("POST", "/api/v1/rooms/direct", { user_id: user.id });
        dialog.close();
        onOpened(room);
      } catch (failure) {
        error.textContent = failure.message;
      }
    },
  });
  dialog.querySelector(".picker-slot").replaceChildren(picker);
  dialog.querySelector(".cancel").onclick = () => dialog.close();
  dialog.showModal();
  picker.querySelector("input").focus();
}
