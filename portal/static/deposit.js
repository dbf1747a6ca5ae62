// casevault deposit page: uploads the chosen case folder (file by file) or its ZIP with the tus
// 1.0 protocol (tus-js-client), a progress bar per file. An interrupted upload — a closed tab, a
// dropped connection — continues from the offset the server reports (HEAD) when the same folder
// is chosen again. Once every file is in, the form posts the upload ids and the server seals.
"use strict";

(() => {
  const form = document.getElementById("deposit-form");
  if (!form || !window.tus) return;
  const folderInput = document.getElementById("folder");
  const zipInput = document.getElementById("zip");
  const list = document.getElementById("upload-list");
  const ids = document.getElementById("upload-ids");
  const status = document.getElementById("upload-status");
  const submit = document.getElementById("deposit-submit");
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const msg = form.dataset;
  const endpoint = new URL(form.dataset.endpoint, window.location.href).href;
  const limit = Number(form.dataset.limit);
  const CHUNK = 16 * 1024 * 1024;
  // What is running now, so that it can be stopped (a new choice stops the old uploads).
  const state = { uploads: [], mode: null };
  window.casevaultDeposit = state;

  const say = (text, bad) => {
    status.hidden = false;
    status.textContent = text;
    status.classList.toggle("status-bad", Boolean(bad));
    status.classList.toggle("status-ok", !bad);
  };
  const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));
  const megabytes = (n) => (n / 1048576).toFixed(1);

  const row = (path, size) => {
    const item = document.createElement("li");
    item.className = "upload";
    item.dataset.path = path;
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = path;
    const bar = document.createElement("progress");
    bar.max = size || 1;
    bar.value = 0;
    bar.setAttribute("aria-label", path);
    const note = document.createElement("span");
    note.className = "upload-state";
    note.textContent = msg.msgWaiting;
    item.append(name, bar, note);
    list.append(item);
    return { item, bar, note };
  };

  // Where the server stands with an upload made before (tus HEAD): what a resumed upload skips.
  const serverOffset = async (url) => {
    try {
      const answer = await fetch(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" }, credentials: "same-origin" });
      return answer.ok ? Number(answer.headers.get("Upload-Offset") || 0) : 0;
    } catch (error) {
      return 0;
    }
  };

  const send = (file, path, view) =>
    new Promise((resolve, reject) => {
      const upload = new tus.Upload(file, {
        endpoint,
        chunkSize: CHUNK,
        retryDelays: [0, 1000, 3000, 5000],
        headers: { "X-CSRF-Token": csrf },
        metadata: { path, filename: file.name, filetype: file.type || "application/octet-stream" },
        // The same file of the same folder for the same user finds its earlier upload again.
        fingerprint: () => Promise.resolve(["casevault", form.dataset.user, path, file.size, file.lastModified].join("|")),
        removeFingerprintOnSuccess: false,
        onProgress: (sent, total) => {
          view.bar.max = total || 1;
          view.bar.value = sent;
          view.item.dataset.sent = String(sent);
          if (!view.item.dataset.resumedFrom) view.note.textContent = fill(msg.msgUploading, { p: Math.floor((100 * sent) / (total || 1)) });
        },
        onSuccess: () => {
          view.bar.value = view.bar.max;
          view.item.classList.add("upload-done");
          const from = Number(view.item.dataset.resumedFrom || 0);
          view.note.textContent = from ? `${msg.msgDone} · ${fill(msg.msgResumed, { mb: megabytes(from) })}` : msg.msgDone;
          resolve(upload.url.split("/").pop());
        },
        onError: (error) => {
          view.item.classList.add("upload-failed");
          view.note.textContent = msg.msgFailed;
          reject(error);
        },
      });
      state.uploads.push(upload);
      upload.findPreviousUploads().then(async (previous) => {
        if (previous.length) {
          const offset = await serverOffset(previous[0].uploadUrl);
          if (offset > 0) {
            view.item.dataset.resumedFrom = String(offset);
            view.note.textContent = fill(msg.msgResumed, { mb: megabytes(offset) });
          }
          upload.resumeFromPreviousUpload(previous[0]);
        }
        upload.start();
      });
    });

  const stop = () => {
    for (const upload of state.uploads) upload.abort();
    state.uploads = [];
    list.replaceChildren();
    ids.replaceChildren();
    submit.disabled = true;
  };

  const run = async (entries, mode) => {
    stop();
    state.mode = mode;
    const total = entries.reduce((n, e) => n + e.file.size, 0);
    if (total > limit) {
      say(msg.msgTooLarge, true);
      return;
    }
    const views = entries.map((e) => row(e.path, e.file.size));
    status.hidden = true;
    const got = [];
    try {
      // One file after another: the largest (the footage) gets the whole line.
      for (let i = 0; i < entries.length; i += 1) {
        got.push(await send(entries[i].file, entries[i].path, views[i]));
      }
    } catch (error) {
      say(msg.msgFailed, true);
      return;
    }
    for (const id of got) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = mode === "zip" ? "upload" : "uploads";
      input.value = id;
      ids.append(input);
    }
    submit.disabled = false;
    say(msg.msgAllDone, false);
  };

  folderInput.addEventListener("change", () => {
    if (!folderInput.files.length) return;
    zipInput.value = "";
    const entries = Array.from(folderInput.files, (file) => ({ file, path: file.webkitRelativePath || file.name }));
    run(entries, "folder");
  });
  zipInput.addEventListener("change", () => {
    if (!zipInput.files.length) return;
    folderInput.value = "";
    run([{ file: zipInput.files[0], path: zipInput.files[0].name }], "zip");
  });
  form.addEventListener("submit", (event) => {
    if (!ids.children.length) {
      event.preventDefault();
      say(msg.msgChoose, true);
      return;
    }
    submit.disabled = true;
  });
})();
