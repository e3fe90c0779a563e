// Progressive enhancement of the verdict page: share the location of the scan, with consent.
"use strict";
(function () {
  var box = document.getElementById("location");
  if (!box || !("geolocation" in navigator) || !window.fetch) { return; }
  var button = document.getElementById("share-location");
  var status = document.getElementById("location-status");
  box.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      var body = JSON.stringify({
        lat: position.coords.latitude,
        lon: position.coords.longitude,
        accuracy_m: position.coords.accuracy
      });
      fetch("/v1/scans/" + encodeURIComponent(box.dataset.scanId) + "/location", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: body
      }).then(function (response) {
        status.textContent = response.ok ? box.dataset.thanks : box.dataset.failed;
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
