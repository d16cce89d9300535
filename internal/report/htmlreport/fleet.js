(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll("#hm tbody tr"));
  var listRows = Array.prototype.slice.call(document.querySelectorAll("#hostlist tbody tr"));
  var areaHeads = Array.prototype.slice.call(document.querySelectorAll("#hm th.area"));
  var fds = Array.prototype.slice.call(document.querySelectorAll("#findings details.fd"));
  var groups = fds.map(function (fd) {
    return Array.prototype.slice.call(fd.querySelectorAll(".grp")).map(function (g) {
      return { el: g, st: g.getAttribute("data-st").charAt(0), hosts: g.getAttribute("data-h").split(",").map(Number) };
    });
  });
  var dyn = document.createElement("style");
  document.head.appendChild(dyn);
  var $ = function (id) { return document.getElementById(id); };
  var lastArea = null;

  function apply() {
    var t0 = performance.now();
    var area = $("f-area").value, st = $("f-status").value, label = $("f-label").value;
    var q = $("f-host").value.trim().toLowerCase();
    if (area !== lastArea) {
      var css = "";
      for (var j = 0; j < D.areas.length; j++) {
        if (area && D.areas[j] !== area) {
          css += "#hm tr.cks>:nth-child(" + (j + 1) + "),#hm tbody tr>:nth-child(" + (j + 2) + "){display:none}";
        }
      }
      dyn.textContent = css;
      areaHeads.forEach(function (h) { h.classList.toggle("hidden", !!area && h.getAttribute("data-a") !== area); });
      lastArea = area;
    }
    var visible = new Array(D.hosts.length), shown = 0;
    for (var i = 0; i < D.hosts.length; i++) {
      var h = D.hosts[i], ok = true;
      if (q && h.n.toLowerCase().indexOf(q) < 0) ok = false;
      if (ok && label && h.l.indexOf(label) < 0) ok = false;
      if (ok && st) {
        ok = false;
        for (var k = 0; k < h.s.length; k++) {
          if (h.s.charAt(k) === st && (!area || D.areas[k] === area)) { ok = true; break; }
        }
      }
      visible[i] = ok;
      if (ok) shown++;
      rows[i].classList.toggle("hidden", !ok);
      if (listRows[i]) listRows[i].classList.toggle("hidden", !ok);
    }
    document.body.classList.toggle("st-filter", !!st);
    var cells = document.querySelectorAll("#hm td.dim");
    for (var c = 0; c < cells.length; c++) cells[c].classList.remove("dim");
    if (st) {
      var cls = "s-" + st;
      for (var r = 0; r < rows.length; r++) {
        if (!visible[r]) continue;
        var tds = rows[r].children;
        for (var t = 1; t < tds.length - 1; t++) {
          if (!tds[t].classList.contains(cls)) tds[t].classList.add("dim");
        }
      }
    }
    var nf = 0;
    fds.forEach(function (fd, n) {
      var ok = (!area || fd.getAttribute("data-a") === area) && (!st || fd.getAttribute("data-s").indexOf(st) >= 0);
      var any = false;
      groups[n].forEach(function (g) {
        var gok = ok && (!st || g.st === st) && g.hosts.some(function (x) { return visible[x]; });
        g.el.classList.toggle("hidden", !gok);
        any = any || gok;
      });
      fd.classList.toggle("hidden", !any);
      if (any) nf++;
    });
    $("f-count").textContent = shown + " of " + D.hosts.length + " hosts · " + nf + " checks";
    document.body.setAttribute("data-filter-ms", (performance.now() - t0).toFixed(1));
  }

  ["f-area", "f-status", "f-label"].forEach(function (id) { $(id).addEventListener("change", apply); });
  $("f-host").addEventListener("input", apply);
  document.getElementById("hm").addEventListener("mouseover", function (e) {
    var td = e.target;
    if (td.tagName !== "TD" || td.title || td.classList.contains("tot")) return;
    var tr = td.parentNode, i = +tr.getAttribute("data-i"), j = td.cellIndex - 1;
    td.title = D.hosts[i].n + " · " + D.checks[j] + ": " + ({ p: "pass", f: "fail", w: "warn", u: "unknown", s: "skip", "-": "not run" })[D.hosts[i].s.charAt(j)];
  });
  document.getElementById("hm").addEventListener("click", function (e) {
    var td = e.target;
    if (td.tagName !== "TD" || td.classList.contains("tot")) return;
    var fd = document.getElementById("c-" + D.checks[td.cellIndex - 1]);
    if (fd) { fd.open = true; fd.scrollIntoView(); }
  });
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  window.rampartFilter = apply;
  apply();
})();
