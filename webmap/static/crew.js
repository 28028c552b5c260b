// 我的待办: the distance of each card from the phone's position, when the user allows it (else the
// server's distance from the zone depot stays), and a line saying which of the two is shown.
(function () {
  "use strict";
  var button = document.getElementById("locate-button");
  var basis = document.getElementById("distance-basis");
  if (!button || !basis) { return; }

  function metres(lat1, lon1, lat2, lon2) {
    // great-circle distance on a sphere of the Earth's mean radius: plenty for "how far to walk"
    var r = 6371008.8, rad = Math.PI / 180;
    var dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    var a = Math.sin(dlat / 2) * Math.sin(dlat / 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dlon / 2) * Math.sin(dlon / 2);
    return 2 * r * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function shown(m) {
    return m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(1) + " km";
  }

  function fromPhone(position) {
    var lat = position.coords.latitude, lon = position.coords.longitude;
    document.querySelectorAll(".card[data-lat]").forEach(function (card) {
      var d = metres(lat, lon, parseFloat(card.getAttribute("data-lat")), parseFloat(card.getAttribute("data-lon")));
      var out = card.querySelector(".dist");
      out.textContent = shown(d);
      out.setAttribute("data-phone-m", String(Math.round(d)));
      var from = card.querySelector(".dist-from");
      if (from) { from.hidden = true; }
    });
    basis.textContent = basis.getAttribute("data-phone");
    document.body.setAttribute("data-distance", "phone");
  }

  function refused() {
    basis.textContent = basis.getAttribute("data-denied");
    document.body.setAttribute("data-distance", "depot");
  }

  button.addEventListener("click", function () {
    if (!navigator.geolocation) { refused(); return; }
    navigator.geolocation.getCurrentPosition(fromPhone, refused, {enableHighAccuracy: true, timeout: 15000,
                                                                   maximumAge: 60000});
  });
})();
