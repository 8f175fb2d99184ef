// The settings page: show a chosen photo in a round preview, then upload it with a progress bar.
// The profile and password forms are plain HTML forms and need nothing from here.

const TRY_AGAIN = "The photo could not be uploaded. Check your connection and try again.";

function sizeText(bytes) {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

// The API answers {"error": {"code", "message", "details"}}; its message is already a sentence.
// Proxies in front of it may answer without that shape, hence the wording per status.
function uploadFailure(xhr, maxBytes) {
  if (xhr.status === 429) {
    const seconds = Number(xhr.getResponseHeader("Retry-After")) || 60;
    return `Too many uploads just now. Try again in ${seconds} seconds.`;
  }
  const message = xhr.response?.error?.message;
  if (message) return message;
  if (xhr.status === 413) return `This photo is too large. The limit is ${sizeText(maxBytes)}.`;
  if (xhr.status === 415) return "This type of file is not accepted. Choose a PNG, JPEG, GIF or WebP image.";
  if (xhr.status === 401 || xhr.status === 403) return "Your session has ended. Reload the page and log in again.";
  return TRY_AGAIN;
}

function setUpPhoto(root) {
  const form = root.querySelector("[data-photo-form]");
  const input = form.querySelector('input[type="file"]');
  const chooseLabel = form.querySelector(".photo-choose");
  const preview = form.querySelector("[data-preview]");
  const previewImage = form.querySelector("[data-preview-image]");
  const fileName = form.querySelector("[data-file-name]");
  const uploadButton = form.querySelector("[data-upload]");
  const cancelButton = form.querySelector("[data-cancel]");
  const progress = form.querySelector("[data-progress]");
  const progressBar = form.querySelector("[data-progress-bar]");
  const progressText = form.querySelector("[data-progress-text]");
  const errorLine = form.querySelector("[data-error]");
  const statusLine = form.querySelector("[data-status]");
  const avatar = root.querySelector("[data-avatar]");
  const avatarLetter = root.querySelector("[data-avatar-letter]");
  const csrfToken = form.querySelector('input[name="csrfmiddlewaretoken"]').value;
  const uploadUrl = root.dataset.uploadUrl;
  const maxBytes = Number(root.dataset.maxBytes);
  const types = root.dataset.types.split(",").filter(Boolean);

  let chosen = null;
  let previewUrl = null;

  function say(message, { error = false } = {}) {
    errorLine.textContent = error ? message : "";
    errorLine.hidden = !error;
    statusLine.textContent = error ? "" : message;
  }

  function setBusy(busy) {
    input.disabled = busy;
    uploadButton.disabled = busy;
    cancelButton.disabled = busy;
    chooseLabel.classList.toggle("disabled", busy);
  }

  function setProgress(fraction) {
    const percent = Math.round(fraction * 100);
    progressBar.value = percent;
    progressText.textContent = `${percent}%`;
  }

  function clearChoice() {
    chosen = null;
    input.value = "";
    preview.hidden = true;
    previewImage.removeAttribute("src");
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
  }

  function problemWith(file) {
    if (file.type && types.length && !types.includes(file.type)) {
      return "This type of file is not accepted. Choose a PNG, JPEG, GIF or WebP image.";
    }
    if (file.size > maxBytes) {
      return `This photo is ${sizeText(file.size)}, over the limit of ${sizeText(maxBytes)}.`;
    }
    return null;
  }

  function choose() {
    const file = input.files[0];
    say("");
    if (!file) return;
    const problem = problemWith(file);
    if (problem) {
      clearChoice();
      say(problem, { error: true });
      return;
    }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    chosen = file;
    previewUrl = URL.createObjectURL(file);
    previewImage.src = previewUrl;
    fileName.textContent = `${file.name} · ${sizeText(file.size)}`;
    preview.hidden = false;
    progress.hidden = true;
  }

  function showAvatar(url) {
    avatar.src = url;
    avatar.hidden = false;
    avatarLetter.hidden = true;
    chooseLabel.textContent = "Change photo";
  }

  function upload(file) {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", uploadUrl);
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) setProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      setBusy(false);
      progress.hidden = true;
      const url = xhr.response?.avatar_url;
      if (xhr.status >= 200 && xhr.status < 300 && url) {
        clearChoice();
        showAvatar(url);
        say("Your new photo is saved.");
      } else {
        say(uploadFailure(xhr, maxBytes), { error: true });
      }
    });
    // A lost connection, or the server closing it on a body past the limit.
    xhr.addEventListener("error", () => {
      setBusy(false);
      progress.hidden = true;
      say(TRY_AGAIN, { error: true });
    });
    const body = new FormData();
    body.append("file", file);
    setProgress(0);
    progress.hidden = false;
    setBusy(true);
    say("Uploading…");
    xhr.send(body);
  }

  input.addEventListener("change", choose);
  previewImage.addEventListener("error", () => {
    if (!chosen) return;
    clearChoice();
    say("This file is not a picture the browser can read. Choose a PNG, JPEG, GIF or WebP image.", { error: true });
  });
  cancelButton.addEventListener("click", () => {
    clearChoice();
    say("");
    input.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (chosen) upload(chosen);
  });
  form.hidden = false;
}

const photo = document.querySelector(".photo[data-upload-url]");
if (photo) setUpPhoto(photo);
