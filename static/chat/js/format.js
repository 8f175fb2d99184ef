// Small, safe DOM and text helpers: every user-supplied string becomes a text node.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/gi;

/** Text with its http(s) links made clickable; nothing else is ever treated as markup. */
export function linkify(text) {
  const fragment = document.createDocumentFragment();
  let position = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    fragment.append(text.slice(position, match.index));
    fragment.append(el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer nofollow" }, match[0]));
    position = match.index + match[0].length;
  }
  fragment.append(text.slice(position));
  return fragment;
}

/** Server highlight (escaped text with <mark> elements) as DOM, without trusting it as HTML. */
export function highlighted(html) {
  const fragment = document.createDocumentFragment();
  const decode = (chunk) => new DOMParser().parseFromString(`<p>${chunk}</p>`, "text/html").body.textContent;
  html.split(/(<mark>.*?<\/mark>)/g).forEach((part) => {
    const marked = part.match(/^<mark>(.*)<\/mark>$/);
    fragment.append(marked ? el("mark", {}, decode(marked[1])) : decode(part));
  });
  return fragment;
}

export function timeOf(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dayLabel(iso) {
  const date = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  return date.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric", year: "numeric" });
}

export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function relativeTime(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function initial(name) {
  return (name || "?").trim().charAt(0).toUpperCase() || "?";
}
