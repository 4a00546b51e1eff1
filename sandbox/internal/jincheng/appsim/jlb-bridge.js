/* jlb-bridge.js — the 晋来办 web JS-SDK shim served by citysandbox.
 *
 *   JLBBridge.onReady(function () {
 *     JLBBridge.ssoTicket().then(function (r) { // r = {result: true, ticket: "..."}
 *       fetch("/login?ticket=" + r.ticket);     // your back end calls ticketValidation
 *     });
 *   });
 *
 * Inside the simulated app the page runs in the app's screen and talks to it with postMessage;
 * every call returns a Promise. Outside the app onReady still fires and calls reject with
 * {result: false}. On load the bridge tells the app the page's <title>, which the app compares
 * with the listed service name.
 */
(function (w) {
  "use strict";
  if (w.JLBBridge) { return; }
  var host = w.parent && w.parent !== w ? w.parent : null;
  var ready = false, waiting = [], pending = {}, seq = 0;

  function fire(cb) { setTimeout(function () { cb(); }, 0); }

  w.addEventListener("message", function (e) {
    if (!host || e.source !== host) { return; }
    var d = e.data || {};
    if (d.jlb === "ready") {
      ready = true;
      waiting.splice(0).forEach(fire);
    } else if (d.jlb === "result" && pending[d.id]) {
      var p = pending[d.id];
      delete pending[d.id];
      if (d.ok) { p.resolve(d.value); } else { p.reject(d.value); }
    }
  });

  function call(method, params) {
    return new Promise(function (resolve, reject) {
      if (!host) { reject({ result: false, errorMsg: "not inside the 晋来办 app" }); return; }
      var id = ++seq;
      pending[id] = { resolve: resolve, reject: reject };
      host.postMessage({ jlb: "call", id: id, method: method, params: params || {} }, "*");
    });
  }

  w.JLBBridge = {
    version: "1.0.0-sandbox",
    onReady: function (cb) { if (ready || !host) { fire(cb); } else { waiting.push(cb); } },
    ssoTicket: function () { return call("ssoTicket"); },
    getUserType: function () { return call("getUserType"); },
    setTitle: function (p) { return call("setTitle", p); },
    close: function () { return call("close"); }
  };

  function hello() { if (host) { host.postMessage({ jlb: "hello", title: document.title, href: String(w.location.href) }, "*"); } }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", hello); } else { hello(); }
})(window);
