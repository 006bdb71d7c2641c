// Live canvas previews: a <canvas> per show canvas, painted from the WebSocket's binary
// frames (api.js Live). Shared by the show page and the building view.

// Blit one preview frame ({width, height, time, rgb}) into a <canvas>.
export function paint(canvas, f) {
  if (canvas.width !== f.width || canvas.height !== f.height) {
    canvas.width = f.width;
    canvas.height = f.height;
  }
  const img = new ImageData(f.width, f.height);
  for (let i = 0, j = 0; i < f.rgb.length; i += 3, j += 4) {
    img.data[j] = f.rgb[i];
    img.data[j + 1] = f.rgb[i + 1];
    img.data[j + 2] = f.rgb[i + 2];
    img.data[j + 3] = 255;
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
  canvas.dataset.time = f.time;
}

// A <canvas data-preview=name> that `live` keeps painted (call live.setPreview with the names).
export function previewCanvas(el, live, name) {
  const canvas = el("canvas", { "data-preview": name, width: 1, height: 1 });
  live.onPreview(name, (f) => paint(canvas, f));
  return canvas;
}
