/* The report form: where (a tap on the map, or the phone's position) and what (a tile, or the full list behind 更多).
   The point fills the lon/lat fields (WGS84, 6 decimals). The sub-district's boundary, roads and compounds are drawn
   from the app's own GeoJSON API, with their names as labels once the map is close enough to read them: no tile
   server is needed. The page's messages come from the form's data-msg-* attributes, in the page's language. */
(function () {
  "use strict";
  var el = document.getElementById("report-map");
  var form = document.getElementById("report-form");
  var lon = document.getElementById("lon");
  var lat = document.getElementById("lat");
  var shown = document.getElementById("point-shown");
  var error = document.getElementById("report-error");
  var photos = document.getElementById("photos");
  var locate = document.getElementById("locate-button");
  var locateStatus = document.getElementById("locate-status");
  var select = document.getElementById("category-select");
  var tiles = Array.prototype.slice.call(document.querySelectorAll("#category-tiles input"));
  var msg = form.dataset;
  var b = el.dataset.bounds.split(",").map(Number);
  var area = L.latLngBounds([[b[1], b[0]], [b[3], b[2]]]);
  var chosen = document.getElementById("photos-chosen");
  // quarter steps: the sub-district fills a phone's map instead of a third of it
  var map = L.map(el, { maxZoom: 19, zoomSnap: 0.25, zoomControl: false }).fitBounds(area);
  // the controls speak the page's language; the credit to Leaflet stays, as plain text
  L.control.zoom({ zoomInTitle: el.dataset.zoomIn, zoomOutTitle: el.dataset.zoomOut }).addTo(map);
  map.attributionControl.setPrefix("Leaflet");
  var marker = null;
  // names are shown from zoom 14.5 (roads) and 15.5 (compounds): below that they only cover each other
  var LABEL_ZOOM = { road: 14.5, compound: 15.5 };

  var roads = [];
  var compounds = [];

  // the point of a road nearest to a point of the map's container, and how far it is (pixels)
  function nearestOnRoad(layer, point) {
    var best = null;
    var lines = layer.getLatLngs();
    (Array.isArray(lines[0]) ? lines : [lines]).forEach(function (line) {
      for (var i = 1; i < line.length; i++) {
        var p = L.LineUtil.closestPointOnSegment(point, map.latLngToContainerPoint(line[i - 1]),
                                                 map.latLngToContainerPoint(line[i]));
        var d = p.distanceTo(point);
        if (!best || d < best.d) { best = { d: d, p: p }; }
      }
    });
    return best;
  }

  // a road's name sits at the point of the road nearest the middle of the view, so that a long road
  // keeps its name on screen wherever one looks at it (its own middle may be far outside the view)
  function placeLabels() {
    var size = map.getSize();
    var middle = size.divideBy(2);
    roads.forEach(function (layer) {
      var best = nearestOnRoad(layer, middle);
      var inside = best && best.p.x > 20 && best.p.y > 10 && best.p.x < size.x - 20 && best.p.y < size.y - 10;
      if (inside) { layer.openTooltip(map.containerPointToLatLng(best.p)); } else { layer.closeTooltip(); }
    });
    // a compound's name sits in the middle of the part of it in view
    var view = map.getBounds();
    compounds.forEach(function (layer) {
      var b = layer.getBounds();
      if (!view.intersects(b)) { layer.closeTooltip(); return; }
      var south = Math.max(b.getSouth(), view.getSouth()), north = Math.min(b.getNorth(), view.getNorth());
      var west = Math.max(b.getWest(), view.getWest()), east = Math.min(b.getEast(), view.getEast());
      layer.openTooltip(L.latLng((south + north) / 2, (west + east) / 2));
    });
  }

  function showLabels() {
    var z = map.getZoom();
    el.classList.toggle("labels-off", z < LABEL_ZOOM.road);
    el.classList.toggle("compound-labels-off", z < LABEL_ZOOM.compound);
    placeLabels();
  }

  function draw(url, style, kind) {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        L.geoJSON(data, {
          style: style,
          interactive: false,
          onEachFeature: function (feature, layer) {
            var name = kind && feature.properties && feature.properties.name;
            if (name) {
              layer.bindTooltip(String(name), { permanent: true, direction: "center", className: "map-label " + kind });
              (kind === "road" ? roads : compounds).push(layer);
            }
          }
        }).addTo(map);
        showLabels();
      });
  }
  draw(el.dataset.boundary, { color: "#1f3b73", weight: 2, fill: false, dashArray: "6 4" }, null);
  draw(el.dataset.compounds, { color: "#b07a2a", weight: 1, fillColor: "#f3e2c4", fillOpacity: 0.35 }, "compound");
  draw(el.dataset.roads, { color: "#888888", weight: 3 }, "road");
  map.on("zoomend moveend", showLabels);

  // the chosen point in words: the road it is near (within NEAR_PX on the screen), and its coordinates
  var NEAR_PX = 40;
  function describe(latlng) {
    var here = map.latLngToContainerPoint(latlng);
    var near = null;
    roads.forEach(function (layer) {
      var best = nearestOnRoad(layer, here);
      if (best && best.d <= NEAR_PX && (!near || best.d < near.d)) { near = { d: best.d, layer: layer }; }
    });
    var where = lon.value + ", " + lat.value;
    return near ? msg.msgNear.replace("{road}", near.layer.getTooltip().getContent()) + "（" + where + "）" : where;
  }

  function place(latlng) {
    lon.value = latlng.lng.toFixed(6);
    lat.value = latlng.lat.toFixed(6);
    shown.textContent = describe(latlng);
    error.hidden = true;
    if (marker) { marker.setLatLng(latlng); } else {
      marker = L.circleMarker(latlng, { radius: 9, color: "#b30000", fillOpacity: 0.8 }).addTo(map);
    }
  }
  if (lon.value && lat.value) { place(L.latLng(Number(lat.value), Number(lon.value))); }
  map.on("click", function (e) { place(e.latlng); locateStatus.textContent = ""; });

  // the browser's position is WGS84 (W3C Geolocation), as the form's fields are
  locate.addEventListener("click", function () {
    if (!navigator.geolocation) { locateStatus.textContent = msg.msgNoLocation; return; }
    locateStatus.textContent = msg.msgLocating;
    navigator.geolocation.getCurrentPosition(function (position) {
      var here = L.latLng(position.coords.latitude, position.coords.longitude);
      if (!area.contains(here)) { locateStatus.textContent = msg.msgOutside; return; }
      place(here);
      map.setView(here, Math.max(map.getZoom(), 17));
      locateStatus.textContent = msg.msgLocated;
    }, function () { locateStatus.textContent = msg.msgNoLocation; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  photos.addEventListener("change", function () {
    var n = (photos.files || []).length;
    chosen.textContent = n ? chosen.dataset.some.replace("{n}", n) : chosen.dataset.none;
  });

  // one category at a time: a tile clears the full list's choice and the full list clears the tiles
  tiles.forEach(function (tile) {
    tile.addEventListener("change", function () { select.value = ""; error.hidden = true; });
  });
  select.addEventListener("change", function () {
    if (select.value) { tiles.forEach(function (tile) { tile.checked = false; }); error.hidden = true; }
  });

  function refuse(event, message) {
    event.preventDefault();
    error.textContent = message;
    error.hidden = false;
    error.scrollIntoView({ block: "center" });
  }
  form.addEventListener("submit", function (event) {
    if (!lon.value || !lat.value) { return refuse(event, msg.msgPoint); }
    if (!select.value && !tiles.some(function (tile) { return tile.checked; })) { return refuse(event, msg.msgCategory); }
    var files = Array.prototype.slice.call(photos.files || []);
    if (files.length > Number(photos.dataset.maxFiles)) { return refuse(event, msg.msgFiles); }
    if (files.some(function (f) { return f.size > Number(photos.dataset.maxBytes); })) { return refuse(event, msg.msgBig); }
  });
})();
