// "Extend staff sessions" (Settings, Help desk): while a staff page stays open, ping the help desk so the
// idle time-out does not log the user out (HESK reloads a hidden frame every 5 minutes for the same).
// Without JavaScript the session simply times out; a reply sent then is kept as a draft.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch) { return; }
  var url = me.getAttribute("data-url");
  var seconds = parseInt(me.getAttribute("data-seconds"), 10);
  if (!url || !(seconds > 0)) { return; }
  var timer = window.setInterval(function () {
    fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "manual" }).then(function (r) {
      // anything but 204 (logged out elsewhere, setting turned off): stop pinging
      if (r.status !== 204) { window.clearInterval(timer); }
    }).catch(function () { /* offline for a moment: try again next time */ });
  }, seconds * 1000);
})();
