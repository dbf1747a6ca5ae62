// casevault: watermarked copy with progress. Without script the form posts to /copies and the
// copy is prepared in that request; with it, a copy job is started and its progress shown.
"use strict";

(() => {
  const form = document.querySelector("form[data-copy-start]");
  if (!form || !window.fetch) return;
  const meta = document.querySelector('meta[name="csrf-token"]');
  const box = document.getElementById("copy-progress");
  const bar = document.getElementById("copy-bar");
  const percent = document.getElementById("copy-percent");
  const message = document.getElementById("copy-message");
  const link = document.getElementById("copy-link");
  const button = form.querySelector("button[type=submit]");

  const show = (fraction) => {
    const value = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    bar.value = value;
    percent.textContent = `${value} %`;
  };
  const fail = (text) => {
    message.textContent = `${message.dataset.failed}${text ? "：" + text : ""}`;
    button.disabled = false;
  };

  const poll = async (url) => {
    for (;;) {
      const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!answer.ok) return fail(`HTTP ${answer.status}`);
      const job = await answer.json();
      show(job.progress || 0);
      if (job.status === "ready" && job.download_url) {
        show(1);
        message.textContent = message.dataset.ready;
        link.href = job.download_url;
        if (job.file_name) link.setAttribute("download", job.file_name);
        link.hidden = false;
        button.disabled = false;
        return;
      }
      if (job.status === "failed") return fail(job.error || "");
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    box.hidden = false;
    link.hidden = true;
    show(0);
    message.textContent = message.dataset.preparing;
    try {
      const answer = await fetch(form.dataset.copyStart, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": meta ? meta.content : "", Accept: "application/json" },
      });
      const body = await answer.json().catch(() => ({}));
      if (answer.status !== 202) {
        const detail = body.detail && (body.detail.reason || body.detail);
        return fail(typeof detail === "string" ? detail : `HTTP ${answer.status}`);
      }
      await poll(body.status_url);
    } catch (error) {
      fail(String(error));
    }
  });

  // The link serves the copy once: after a click, offer a fresh copy instead.
  link.addEventListener("click", () => {
    setTimeout(() => { link.hidden = true; }, 500);
  });
})();
