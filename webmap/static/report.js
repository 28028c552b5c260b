/* The report form's map: click where the problem is; the point fills the lon/lat fields (WGS84, 6 decimals).
   The sub-district's boundary and roads are drawn from the app's own GeoJSON API: no tile server needed. */
(function () {
  "use strict";
  var el = document.getElementById("report-map");
  var form = document.getElementById("report-form");
  var lon = document.getElementById("lon");
  var lat = document.getElementById("lat");
  var shown = document.getElementById("point-shown");
  var error = document.getElementById("report-error");
  var photos = document.getElementById("photos");
  var b = el.dataset.bounds.split(",").map(Number);
  var map = L.map(el, { maxZoom: 19 }).fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  var marker = null;

  function draw(url, style) {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { L.geoJSON(data, { style: style, interactive: false }).addTo(map); } });
  }
  draw(el.dataset.boundary, { color: "#1f3b73", weight: 2, fill: false, dashArray: "6 4" });
  draw(el.dataset.roads, { color: "#888888", weight: 2 });

  function place(latlng) {
    lon.value = latlng.lng.toFixed(6);
    lat.value = latlng.lat.toFixed(6);
    shown.textContent = lon.value + ", " + lat.value;
    if (marker) { marker.setLatLng(latlng); } else {
      marker = L.circleMarker(latlng, { radius: 8, color: "#b30000", fillOpacity: 0.8 }).addTo(map);
    }
  }
  map.on("click", function (e) { place(e.latlng); });

  function refuse(event, message) {
    event.preventDefault();
    error.textContent = message;
    error.hidden = false;
  }
  form.addEventListener("submit", function (event) {
    if (!lon.value || !lat.value) { return refuse(event, "请先在地图上点击问题位置 (click the map first)"); }
    var files = Array.prototype.slice.call(photos.files || []);
    if (files.length > Number(photos.dataset.maxFiles)) {
      return refuse(event, "照片过多 (too many photos): " + files.length + " > " + photos.dataset.maxFiles);
    }
    var big = files.filter(function (f) { return f.size > Number(photos.dataset.maxBytes); });
    if (big.length) { return refuse(event, "照片过大 (photo too large): " + big[0].name); }
  });
})();
