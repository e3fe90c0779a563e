// The scanner page: the photo form's answer shown in place, and the camera where the
// browser has BarcodeDetector. Both post to /scan, so the result (banner, facts, what to do
// next, the brand's contact) is drawn by the server exactly as on a label's page.
"use strict";
(function () {
  var form = document.getElementById("photo-form");
  var result = document.getElementById("result");
  if (!window.fetch || !window.DOMParser) { return; }

  function say(text, isError) {
    var p = document.createElement("p");
    p.textContent = text;
    if (isError) { p.className = "error"; p.setAttribute("role", "alert"); }
    result.replaceChildren(p);
  }

  function check(data) {
    say(form.dataset.working, false);
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var answer = doc.getElementById("result");
        if (!answer) { say(form.dataset.none, true); return; }
        result.replaceChildren.apply(result, Array.prototype.slice.call(answer.childNodes));
        // The answer's language links name its scan: switching shows this result again.
        var links = doc.querySelector("nav.languages");
        var mine = document.querySelector("nav.languages");
        if (links && mine) { mine.replaceWith(document.importNode(links, true)); }
        var heading = result.querySelector("h2");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      }, function () { say(form.dataset.none, true); });
  }

  form.addEventListener("submit", function (event) {
    var input = document.getElementById("photo");
    if (!input.files || input.files.length === 0) { return; }
    event.preventDefault();
    var data = new FormData();
    data.append("photo", input.files[0]);
    check(data);
  });

  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
  var camera = document.getElementById("camera");
  var video = document.getElementById("preview");
  var status = document.getElementById("camera-status");
  camera.hidden = false;
  document.getElementById("start-camera").addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code", "data_matrix"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        return video.play().then(function () {
          function tick() {
            detector.detect(video).then(function (codes) {
              if (codes.length > 0) {
                stream.getTracks().forEach(function (track) { track.stop(); });
                video.hidden = true;
                var data = new FormData();
                data.append("code", codes[0].rawValue);
                check(data);
              } else {
                window.requestAnimationFrame(tick);
              }
            }, function () { window.requestAnimationFrame(tick); });
          }
          tick();
        });
      }, function () { status.textContent = camera.dataset.failed; });
  });
})();
