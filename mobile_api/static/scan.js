// The scanner page: camera + BarcodeDetector where the browser has it, else photo upload.
"use strict";
(function () {
  var messages = JSON.parse(document.getElementById("messages").textContent);
  var form = document.getElementById("photo-form");
  var result = document.getElementById("result");
  var icons = { authentic: "\u2714", suspect: "!", counterfeit: "\u2716", unverifiable: "?" };

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function showVerdict(answer) {
    var verdict = answer.verdict;
    var section = element("section", "verdict verdict-" + verdict);
    section.id = "verdict";
    section.setAttribute("role", "status");
    section.dataset.verdict = verdict;
    var icon = element("span", "icon", icons[verdict]);
    icon.setAttribute("aria-hidden", "true");
    section.appendChild(icon);
    section.appendChild(element("h1", "", messages["verdict." + verdict]));
    answer.reasons.forEach(function (reason) {
      section.appendChild(element("p", "", messages["reason." + reason.code] || reason.message));
    });
    var facts = element("dl", "");
    var product = answer.product;
    [["fact.brand", product.brand], ["fact.gtin", product.gtin], ["fact.serial", product.serial],
     ["fact.lot", product.lot], ["fact.expiry", product.expiry]].forEach(function (row) {
      facts.appendChild(element("dt", "", messages[row[0]]));
      facts.appendChild(element("dd", "", row[1] || "\u2013"));
    });
    var factsBox = element("section", "facts");
    factsBox.appendChild(facts);
    result.replaceChildren(section, factsBox);
  }

  function showError(text) {
    var p = element("p", "error", text);
    p.setAttribute("role", "alert");
    result.replaceChildren(p);
  }

  function verifyText(text) {
    return fetch("/v1/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ code: text })
    }).then(function (response) { return response.json(); }).then(showVerdict);
  }

  form.addEventListener("submit", function (event) {
    var input = document.getElementById("photo");
    if (!window.fetch || !input.files || input.files.length === 0) { return; }
    event.preventDefault();
    result.replaceChildren(element("p", "", form.dataset.working));
    var data = new FormData();
    data.append("photo", input.files[0]);
    fetch("/v1/decode", { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) {
          if (response.ok) { showVerdict(body.verify); } else {
            showError(response.status === 422 ? messages["scan.none"] : (body.detail || body.title));
          }
        });
      }, function () { showError(messages["scan.none"]); });
  });

  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
  var camera = document.getElementById("camera");
  var video = document.getElementById("preview");
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
                verifyText(codes[0].rawValue);
              } else {
                window.requestAnimationFrame(tick);
              }
            }, function () { window.requestAnimationFrame(tick); });
          }
          tick();
        });
      }, function () { camera.hidden = true; });
  });
})();
