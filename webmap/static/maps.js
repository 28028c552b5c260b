/*
 * citymap's map renderer. A map page is fixed code: folium writes the Leaflet map, and this
 * script fetches the map's data (a "map document", webmap/maps/document.py) as JSON from the app
 * and draws it. Nothing a user typed is ever part of a script or of HTML: every value of the
 * document reaches the page through textContent, attributes or Leaflet options.
 *
 * Document: {bounds: [[s, w], [n, e]], layers: [...], legend: {title, rows: [[colour, label, shape]]},
 *            message: "..."}
 * Layer:    {name, kind: "geojson" | "cluster" | "heat" | "live", show, data (GeoJSON) | rows ([lat, lon, w]),
 *            style, style_props {leaflet option: property}, point ("circle" | "badge" | "arrow" | "tag"),
 *            label (property of a badge or tag), angle (property of an arrow), count (property: issues a
 *            point stands for), tooltip {fields: [[label, property]]}, popup {title, href, fields, items,
 *            photos, max_width}, options (heat), source and params (live)}
 * A live layer asks its source (a path of this app) for the issues of the view whenever the view changes:
 * the page's query string with the layer's params, view=minlon,minlat,maxlon,maxlat and zoom; the answer,
 * {clustered, total, data}, holds the issues (drawn as the layer says) or squares of counts (drawn as
 * cluster bubbles; a click zooms in). webmap/maps/live.py.
 */
(function () {
  "use strict";

  // Links in popups go to pages of this app only: a path, never a scheme, host or "//".
  var SAFE_PATH = /^\/(?![\/\\])[A-Za-z0-9._~\/-]*(\?[A-Za-z0-9._~=&%+,-]*)?(#[A-Za-z0-9_-]*)?$/;
  // the map page's words: the page that frames the map says which language it speaks
  var ENGLISH = (function () {
    try { return window.parent.document.documentElement.lang === "en"; } catch (err) { return false; }
  })();
  var WORDS = ENGLISH ? {photo: "Photo ", login: "Please log in again (HTTP ", failed: "The map's data could not be loaded: ",
                         zoomIn: "Zoom in", zoomOut: "Zoom out", layers: "Layers"}
                      : {photo: "照片 ", login: "请重新登录后再试（HTTP ", failed: "地图数据无法加载：",
                         zoomIn: "放大", zoomOut: "缩小", layers: "图层"};
  var drawn = [];

  function text(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = text(content);
    return node;
  }

  // Leaflet's layer control writes layer names as HTML.
  function escapeHtml(value) {
    return text(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function fieldLines(parent, props, fields) {
    (fields || []).forEach(function (pair) {
      var value = props[pair[1]];
      if (value === null || value === undefined || value === "") return;
      var line = el("div", "cm-line");
      if (pair[0]) line.appendChild(el("span", "cm-label", pair[0] + "："));
      line.appendChild(el("span", "cm-value", value)).setAttribute("data-value", "");
      parent.appendChild(line);
    });
  }

  function popupNode(props, spec) {
    var box = el("div", "cm-popup");
    if (spec.title) {
      var title = el("div", "cm-title");
      var href = spec.href ? text(props[spec.href]) : "";
      var label = el(SAFE_PATH.test(href) ? "a" : "b", null, props[spec.title]);
      if (label.tagName === "A") {
        label.href = href;
        label.target = "_top";
      }
      title.appendChild(label);
      box.appendChild(title);
    }
    fieldLines(box, props, spec.fields);
    var items = spec.items ? props[spec.items] : null;
    if (items && items.length) {
      var list = el("ul", "cm-items");
      items.forEach(function (item) { list.appendChild(el("li", null, item)); });
      box.appendChild(list);
    }
    var photos = spec.photos ? props[spec.photos] : null;
    (photos || []).forEach(function (path, i) {
      if (!SAFE_PATH.test(text(path))) return;
      var link = el("a", "cm-photo", WORDS.photo + (i + 1));
      link.href = path;
      link.target = "_blank";
      link.rel = "noopener";
      box.appendChild(link);
    });
    return box;
  }

  function tooltipNode(props, spec) {
    var box = el("div", "cm-tooltip");
    fieldLines(box, props, spec.fields);
    return box;
  }

  function styleOf(spec, props) {
    var style = Object.assign({}, spec.style || {});
    var byProperty = spec.style_props || {};
    Object.keys(byProperty).forEach(function (option) {
      var value = props[byProperty[option]];
      if (value !== null && value !== undefined) style[option] = value;
    });
    return style;
  }

  function pointLayer(spec, props, latlng) {
    var style = styleOf(spec, props);
    var kind = spec.point || "circle";
    if (kind === "circle") return L.circleMarker(latlng, style);
    var node = el("div", "cm-" + kind);
    if (kind === "arrow") {
      node.textContent = "➤";
      node.style.color = text(style.color);
      node.style.transform = "rotate(" + (Number(props[spec.angle]) || 0) + "deg)";
    } else {
      node.textContent = text(props[spec.label]);
      node.setAttribute("data-value", "");
      node.style.background = text(style.color);
    }
    var size = style.size || [18, 18];
    return L.marker(latlng, {
      icon: L.divIcon({html: node, className: "cm-icon", iconSize: size, iconAnchor: [size[0] / 2, size[1] / 2]}),
      interactive: Boolean(spec.popup || spec.tooltip), keyboard: false,
    });
  }

  function bindInfo(layer, spec, props) {
    if (spec.tooltip) layer.bindTooltip(function () { return tooltipNode(props, spec.tooltip); }, {sticky: true});
    if (spec.popup) {
      layer.bindPopup(function () { return popupNode(props, spec.popup); },
                      {maxWidth: spec.popup.max_width || 320});
    }
  }

  function geojsonLayer(spec) {
    return L.geoJSON(spec.data, {
      style: function (feature) { return styleOf(spec, feature.properties || {}); },
      pointToLayer: function (feature, latlng) { return pointLayer(spec, feature.properties || {}, latlng); },
      onEachFeature: function (feature, layer) { bindInfo(layer, spec, feature.properties || {}); },
    });
  }

  function clusterLayer(spec) {
    var count = spec.count;
    var group = L.markerClusterGroup({
      chunkedLoading: true,
      iconCreateFunction: function (cluster) {
        var n = 0;
        cluster.getAllChildMarkers().forEach(function (m) { n += m.options.issues || 1; });
        return bubble(n);
      },
    });
    var markers = (spec.data.features || []).map(function (feature) {
      var props = feature.properties || {};
      var xy = feature.geometry.coordinates;
      var marker = pointLayer(spec, props, L.latLng(xy[1], xy[0]));
      marker.feature = feature;  // as L.geoJSON does, so a marker says what it shows
      marker.options.issues = count ? Number(props[count]) || 1 : 1;
      bindInfo(marker, spec, props);
      return marker;
    });
    group.addLayers(markers);
    return group;
  }

  // a bubble holds four digits: beyond, 万 (ten thousands) on Chinese pages, k on English ones
  function compact(n) {
    if (n < 10000) return String(n);
    return ENGLISH ? Math.round(n / 1000) + "k" : (n / 10000).toFixed(n < 100000 ? 1 : 0) + "万";
  }

  function bubble(n) {
    var size = n < 100 ? "small" : (n < 1000 ? "medium" : "large");
    var inner = el("div");
    inner.appendChild(el("span", null, compact(n)));
    return L.divIcon({html: inner, className: "marker-cluster marker-cluster-" + size, iconSize: new L.Point(40, 40)});
  }

  function fetchJson(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        // a login page instead of JSON: the session has ended
        if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
          throw new Error(WORDS.login + response.status + (ENGLISH ? ")" : "）"));
        }
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(text(body.error) || "HTTP " + response.status);
          return body;
        });
      });
  }

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  // the view as the source expects it: degrees within the world, 6 decimals
  function viewParam(map) {
    var b = map.getBounds();
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -85, 85), clamp(b.getEast(), -180, 180),
            clamp(b.getNorth(), -85, 85)].map(function (v) { return v.toFixed(6); }).join(",");
  }

  function liveLayer(map, spec, entry) {
    var group = L.layerGroup();
    var asked = 0;
    if (!SAFE_PATH.test(text(spec.source))) return group;
    function draw(answer) {
      group.clearLayers();
      (answer.data.features || []).forEach(function (feature) {
        var props = feature.properties || {};
        var xy = feature.geometry.coordinates;
        var latlng = L.latLng(xy[1], xy[0]);
        var marker;
        if (answer.clustered) {
          marker = L.marker(latlng, {icon: bubble(Number(props.n) || 0), keyboard: false});
          marker.bindTooltip(function () { return el("div", "cm-tooltip", props.tip); });
          marker.on("click", function () { map.setView(latlng, Math.min(map.getZoom() + 2, map.getMaxZoom())); });
        } else {
          marker = pointLayer(spec, props, latlng);
          bindInfo(marker, spec, props);
        }
        marker.feature = feature;
        group.addLayer(marker);
      });
      entry.features = (answer.data.features || []).length;
      entry.issues = answer.total;
      entry.clustered = answer.clustered;
      entry.loaded = true;
    }
    function load() {
      if (!map.hasLayer(group)) return;
      var query = new URLSearchParams(window.location.search);
      Object.keys(spec.params || {}).forEach(function (key) { query.set(key, text(spec.params[key])); });
      query.set("view", viewParam(map));
      query.set("zoom", String(map.getZoom()));
      var mine = ++asked;
      entry.loaded = false;
      fetchJson(spec.source + "?" + query.toString())
        .then(function (answer) { if (mine === asked) draw(answer); })
        .catch(function (err) {
          if (mine !== asked) return;
          entry.loaded = true;
          entry.error = text(err.message);
          notice(map, WORDS.failed + text(err.message), "cm-notice cm-error");
        });
    }
    map.on("moveend", load);
    group.on("add", load);
    return group;
  }

  function heatLayer(spec) {
    return L.heatLayer(spec.rows || [], spec.options || {});
  }

  function legendControl(legend) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var box = el("div", "cm-legend");
      box.appendChild(el("b", null, legend.title));
      (legend.rows || []).forEach(function (row) {
        var line = el("div");
        var swatch = el("span", "cm-swatch" + (row[2] === "dot" ? " cm-dot" : ""));
        swatch.style.background = text(row[0]);
        line.appendChild(swatch);
        line.appendChild(document.createTextNode(text(row[1])));
        box.appendChild(line);
      });
      return box;
    };
    return control;
  }

  function notice(map, message, className) {
    var control = L.control({position: "topleft"});
    control.onAdd = function () { return el("div", className || "cm-notice", message); };
    control.addTo(map);
  }

  function features(layer) {
    if (layer.kind === "heat") return (layer.rows || []).length;
    if (layer.kind === "live") return 0;  // until its first answer
    return ((layer.data || {}).features || []).length;
  }

  // Leaflet's own controls speak English: their titles in the page's language, the attribution without its
  // English title
  function localiseControls(map, overlays) {
    if (map.zoomControl) {
      map.removeControl(map.zoomControl);
      L.control.zoom({zoomInTitle: WORDS.zoomIn, zoomOutTitle: WORDS.zoomOut}).addTo(map);
    }
    var toggle = overlays.getContainer().querySelector(".leaflet-control-layers-toggle");
    if (toggle) toggle.title = WORDS.layers;
    if (map.attributionControl) map.attributionControl.setPrefix("Leaflet");
  }

  function draw(map, doc) {
    if (doc.bounds) map.fitBounds(doc.bounds);
    L.control.scale({imperial: false, metric: true}).addTo(map);
    var overlays = L.control.layers(null, null, {collapsed: true});
    (doc.layers || []).forEach(function (spec) {
      var entry = {name: text(spec.name), kind: spec.kind, features: features(spec)};
      var layer = spec.kind === "heat" ? heatLayer(spec) : (spec.kind === "cluster" ? clusterLayer(spec)
                  : (spec.kind === "live" ? liveLayer(map, spec, entry) : geojsonLayer(spec)));
      entry.layer = layer;
      drawn.push(entry);
      if (spec.show !== false) layer.addTo(map);
      if (spec.name) overlays.addOverlay(layer, escapeHtml(spec.name));
    });
    overlays.addTo(map);
    localiseControls(map, overlays);
    if (doc.legend) legendControl(doc.legend).addTo(map);
    if (doc.message) notice(map, doc.message);
    document.body.setAttribute("data-map-drawn", "true");
  }

  function fail(map, message) {
    notice(map, message, "cm-notice cm-error");
    document.body.setAttribute("data-map-drawn", "error");
  }

  function start(map, url) {
    window.citymapMap.map = map;
    var embedded = document.getElementById("citymap-map-data");
    if (embedded) {
      draw(map, JSON.parse(embedded.textContent));
      return;
    }
    fetchJson(url + window.location.search)
      .then(function (doc) { draw(map, doc); })
      .catch(function (err) { fail(map, WORDS.failed + text(err.message)); });
  }

  window.citymapMap = {start: start, draw: draw, drawn: drawn};
})();
