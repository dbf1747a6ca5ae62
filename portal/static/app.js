// casevault portal: progressive enhancement only; every page works without it.
"use strict";

// Full screen keeps the watermark: the wrapper (video + overlay) goes full screen, never the
// bare <video> (its own full-screen button is hidden with controlslist="nofullscreen").
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-fullscreen]");
  if (!button) return;
  const target = document.getElementById(button.dataset.fullscreen);
  if (!target) return;
  if (document.fullscreenElement) {
    document.exitFullscreen();
  } else if (target.requestFullscreen) {
    target.requestFullscreen();
  }
});

// A double click on the video would go full screen without the overlay: make it use the wrapper.
document.addEventListener("dblclick", (event) => {
  const video = event.target.closest(".viewer video");
  if (!video) return;
  event.preventDefault();
  const viewer = video.closest(".viewer");
  if (viewer && !document.fullscreenElement && viewer.requestFullscreen) viewer.requestFullscreen();
}, true);

// Picture-in-picture would show the video without the overlay.
for (const video of document.querySelectorAll(".viewer video")) {
  video.disablePictureInPicture = true;
}

// Should the bare video reach full screen anyway (browser menu, keyboard), hand it to the wrapper.
document.addEventListener("fullscreenchange", () => {
  const element = document.fullscreenElement;
  if (!element || element.tagName !== "VIDEO") return;
  const viewer = element.closest(".viewer");
  document.exitFullscreen().then(() => viewer && viewer.requestFullscreen && viewer.requestFullscreen()).catch(() => {});
});

// Printable pages (the reply letter, the register): inline handlers are forbidden by the CSP.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
