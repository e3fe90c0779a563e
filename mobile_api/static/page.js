// Progressive enhancement of the verdict page: share the location of the scan, with consent.
"use strict";
(function () {
  var box = document.getElementById("location");
  if (!box || !("geolocation" in navigator) || !window.fetch) { return; }
  var button = document.getElementById("share-location");
  var status = document.getElementById("location-status");
  box.hidden = false;
  // The scan is judged again with the location; a worse verdict replaces the banner.
  // The language links need no change: they name this scan (?shown=), whose stored
  // answer the re-judgement raised, so a switch draws the new verdict (docs/i18n.md).
  function showVerdict(answer) {
    var verdict = document.getElementById("verdict");
    var banner = answer && answer.banner;
    if (!verdict || !banner || answer.verdict !== "suspect") { return; }
    verdict.className = "verdict verdict-" + banner.state;
    verdict.dataset.verdict = "suspect";
    verdict.dataset.banner = banner.state;
    var heading = verdict.querySelector("h1");
    if (heading) { heading.textContent = banner.heading; }
    var icon = verdict.querySelector("svg path");
    if (icon) { icon.setAttribute("d", banner.icon); }
    var paragraphs = verdict.querySelectorAll(":scope > p");
    for (var i = 0; i < paragraphs.length; i++) {
      paragraphs[i].textContent = i === 0 ? banner.reason : "";
      paragraphs[i].hidden = i !== 0;
    }
    var next = document.querySelector("section.next > p");
    if (next) { next.textContent = banner.next; }
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      var body = JSON.stringify({
        lat: position.coords.latitude,
        lon: position.coords.longitude,
        accuracy_m: position.coords.accuracy
      });
      var lang = encodeURIComponent(document.documentElement.lang || "en");
      fetch("/v1/scans/" + encodeURIComponent(box.dataset.scanId) + "/location?lang=" + lang, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: body
      }).then(function (response) {
        status.textContent = response.ok ? box.dataset.thanks : box.dataset.failed;
        if (response.ok) { return response.json().then(showVerdict); }
      }, function () {
        status.textContent = box.dataset.failed;
        button.disabled = false;
      });
    }, function () {
      status.textContent = box.dataset.failed;
      button.disabled = false;
    }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 60000 });
  });
})();
