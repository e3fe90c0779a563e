// Reading codes: the browser's BarcodeDetector where it exists (Chrome on Android,
// macOS, ChromeOS), else zxing-cpp's WebAssembly reader vendored under
// /officer/static/vendor/zxing by the build step. Both give the symbol's text; the
// zxing path also gives the AIM symbology identifier (]Q1, ]d2), which the parser uses.

const VENDOR = "/officer/static/vendor/zxing/";
const FORMATS = ["qr_code", "data_matrix"];
let zxing = null;

async function barcodeDetector() {
  if (!("BarcodeDetector" in globalThis)) return null;
  try {
    const supported = await globalThis.BarcodeDetector.getSupportedFormats();
    const formats = FORMATS.filter((f) => supported.includes(f));
    return formats.length ? new globalThis.BarcodeDetector({ formats }) : null;
  } catch {
    return null;
  }
}

async function zxingReader() {
  if (zxing) return zxing;
  try {
    const module = await import(VENDOR + "reader/index.js");
    module.prepareZXingModule({
      overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? VENDOR + path : prefix + path) },
    });
    zxing = module;
    return zxing;
  } catch {
    return null;
  }
}

// Which decoder this device has: "BarcodeDetector", "zxing-wasm" or null.
export async function decoderName() {
  if (await barcodeDetector()) return "BarcodeDetector";
  if (await zxingReader()) return "zxing-wasm";
  return null;
}

// The texts of the QR / DataMatrix codes in an image (Blob, ImageBitmap, canvas or ImageData).
export async function decode(source) {
  const detector = await barcodeDetector();
  if (detector) {
    const image = source instanceof Blob ? await createImageBitmap(source) : source;
    return (await detector.detect(image)).map((found) => found.rawValue);
  }
  const reader = await zxingReader();
  if (!reader) throw new Error("no decoder on this device: type the code or use a hardware scanner");
  let input = source;
  if (!(source instanceof Blob) && !(source instanceof ImageData)) {
    const canvas = new OffscreenCanvas(source.width, source.height);
    const context = canvas.getContext("2d");
    context.drawImage(source, 0, 0);
    input = context.getImageData(0, 0, source.width, source.height);
  }
  const results = await reader.readBarcodes(input, {
    formats: ["QRCode", "DataMatrix"], tryHarder: true, tryRotate: true, tryDownscale: true,
    textMode: "Plain", maxNumberOfSymbols: 4,
  });
  return results.filter((r) => r.isValid).map((r) => (r.symbologyIdentifier || "") + r.text);
}

// The camera: frames from getUserMedia decoded until one holds a code, or stop() is called.
export async function scanCamera(video, onText) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  video.srcObject = stream;
  await video.play();
  let running = true;
  const stop = () => {
    running = false;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  (async () => {
    while (running) {
      try {
        if (video.videoWidth) {
          const frame = await createImageBitmap(video);
          const texts = await decode(frame);
          if (texts.length && running) { stop(); onText(texts[0]); return; }
        }
      } catch { /* a frame that cannot be read: try the next */ }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return stop;
}

// What a hardware scanner in keyboard mode types, made into scanner data: scanners
// configured to send FNC1 as a visible token or as Ctrl+] give these; the parser wants GS.
export function fromKeyboard(text) {
  return text.replace(/<GS>|\{GS\}|\\x1[dD]|\u241d|\^\]/g, "\x1d");
}
