// Progressive help for the document page; everything works without this file.
// - Links each box on the page image with its row in the field table: hover or focus either to light
//   both, click a box to jump to its value.
// - Zooms the page (the boxes follow: they are drawn in the page's own coordinates) and opens it zoomed
//   on the part of the page where the fields are.
"use strict";

const MAX_START_ZOOM = 2.5;
const ZOOM_STEP = 1.5;

document.addEventListener("DOMContentLoaded", () => {
  const viewer = setUpViewer();
  const rows = Array.from(document.querySelectorAll("tr.field-row[data-field]"));
  const boxes = Array.from(document.querySelectorAll(".overlay .box[data-field]"));
  if (!rows.length) return;

  const byField = (label) => [...rows, ...boxes].filter((el) => el.dataset.field === label);
  const highlight = (label, on) => byField(label).forEach((el) => el.classList.toggle("active", on));

  for (const element of [...rows, ...boxes]) {
    const label = element.dataset.field;
    element.addEventListener("mouseenter", () => highlight(label, true));
    element.addEventListener("mouseleave", () => highlight(label, false));
    element.addEventListener("focusin", () => {
      highlight(label, true);
      if (viewer && element.tagName === "TR") viewer.show(label);
    });
    element.addEventListener("focusout", () => highlight(label, false));
  }

  for (const box of boxes) {
    box.addEventListener("click", () => {
      const row = rows.find((r) => r.dataset.field === box.dataset.field);
      if (!row) return;
      row.scrollIntoView({ block: "center", behavior: "smooth" });
      const input = row.querySelector("input[name=value]");
      if (input) {
        input.focus({ preventScroll: true });
        input.select();
      }
    });
  }
});

function setUpViewer() {
  const frame = document.querySelector(".page-frame");
  const canvas = document.querySelector(".page-canvas");
  const image = document.querySelector("img.page-image");
  const svg = document.querySelector("svg.overlay");
  const controls = document.querySelector(".zoom");
  if (!frame || !canvas || !image || !svg || !controls) return null;
  const page = svg.viewBox.baseVal;
  let zoom = 1;

  const setZoom = (value) => {
    zoom = Math.min(Math.max(value, 1), 6);
    canvas.style.width = `${zoom * 100}%`;
  };
  const pixelsPerUnit = () => canvas.clientWidth / page.width;
  const scrollTo = (x, y) => {
    frame.scrollLeft = Math.max(0, x * pixelsPerUnit());
    frame.scrollTop = Math.max(0, y * pixelsPerUnit());
  };
  const rectsOf = (selector) =>
    Array.from(svg.querySelectorAll(selector)).map((r) => ({
      x: r.x.baseVal.value,
      y: r.y.baseVal.value,
      right: r.x.baseVal.value + r.width.baseVal.value,
      bottom: r.y.baseVal.value + r.height.baseVal.value,
    }));

  // Open on the fields: zoom so that the part of the page holding them fills the frame.
  const focusFields = () => {
    const rects = rectsOf(".box:not(.box-candidate) rect");
    if (!rects.length) return;
    const margin = page.width * 0.1;
    const left = Math.min(...rects.map((r) => r.x)) - margin;
    const right = Math.max(...rects.map((r) => r.right)) + margin;
    const top = Math.min(...rects.map((r) => r.y)) - margin;
    setZoom(Math.min(MAX_START_ZOOM, page.width / Math.max(right - left, 1)));
    scrollTo(left, top);
  };

  controls.hidden = false;
  controls.addEventListener("click", (event) => {
    const which = event.target.closest("[data-zoom]")?.dataset.zoom;
    if (which === "in") setZoom(zoom * ZOOM_STEP);
    else if (which === "out") setZoom(zoom / ZOOM_STEP);
    else if (which === "fit") setZoom(1);
  });
  if (image.complete) focusFields();
  else image.addEventListener("load", focusFields, { once: true });

  return {
    // Bring a field's box into the frame, without moving the rest of the page.
    show(label) {
      const box = Array.from(svg.querySelectorAll(".box:not(.box-candidate)")).find(
        (b) => b.dataset.field === label,
      );
      const rect = box?.querySelector("rect");
      if (!rect) return;
      const scale = pixelsPerUnit();
      const x = rect.x.baseVal.value * scale;
      const y = rect.y.baseVal.value * scale;
      const visible =
        x >= frame.scrollLeft && x <= frame.scrollLeft + frame.clientWidth - 40 &&
        y >= frame.scrollTop && y <= frame.scrollTop + frame.clientHeight - 20;
      if (!visible) {
        frame.scrollLeft = Math.max(0, x - frame.clientWidth / 3);
        frame.scrollTop = Math.max(0, y - frame.clientHeight / 3);
      }
    },
  };
}
