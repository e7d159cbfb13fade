//! Updates without a reload: a small script that listens to the server's event stream
//! (`/v1/events/stream`) and, when an event for what the page shows arrives, fetches the page
//! again and swaps in its `#live` part. The stream starts at the log position the page was drawn
//! at (`data-from`), so an event recorded between the page and the stream is not missed. While forgelink itself is verifying an approval the page
//! also asks again every two seconds, so it settles even where the stream is cut by a proxy.
//! It also narrows the Bitbucket project keys to the chosen workspace, and moves the focus to a
//! refused form's message so that a screen reader reads it first. It is in every page's layout.

use maud::{html, Markup, PreEscaped};

pub const SCRIPT: &str = r#"
(function () {
  // A refused form: its message takes the focus, so it is read first.
  var error = document.getElementById('error');
  if (error) error.focus();
  var live = document.getElementById('live');
  if (!live) return;
  var want = live.getAttribute('data-stream') || '';
  var busy = false, again = false;
  function typing() {
    var a = document.activeElement;
    return a && live.contains(a) && a.form;
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('live');
        if (!fresh || fresh.innerHTML === live.innerHTML) return;
        // Never pull a form from under a person who is filling it in.
        if (typing()) { setTimeout(refresh, 3000); return; }
        live.innerHTML = fresh.innerHTML;
        live.setAttribute('data-poll', fresh.getAttribute('data-poll') || '');
        syncKeys();
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  // The Bitbucket picker: offer only the chosen workspace's project keys (without this script
  // every key stays listed, grouped by workspace, and the server checks the pair).
  function syncKeys() {
    var ws = document.getElementById('workspace'), keys = document.getElementById('project_key');
    if (!ws || !keys) return;
    var groups = keys.getElementsByTagName('optgroup'), first = null, keep = false;
    for (var i = 0; i < groups.length; i++) {
      var on = groups[i].getAttribute('data-workspace') === ws.value;
      groups[i].hidden = !on; groups[i].disabled = !on;
      if (on && !first) first = groups[i].querySelector('option');
      if (on && keys.selectedOptions[0] && keys.selectedOptions[0].parentNode === groups[i]) keep = true;
    }
    if (!keep && first) first.selected = true;
  }
  document.addEventListener('change', function (e) { if (e.target && e.target.id === 'workspace') syncKeys(); });
  syncKeys();
  function onEvent(e) {
    if (!want || (e.data && e.data.indexOf(want) >= 0)) refresh();
  }
  if (window.EventSource) {
    // From the log position the page was drawn at: nothing recorded in between is missed.
    var from = live.getAttribute('data-from');
    var es = new EventSource('/v1/events/stream' + (from ? '?from=' + encodeURIComponent(from) : ''));
    es.onmessage = onEvent;
    es.addEventListener('envelope', onEvent);
  }
  setInterval(function () { if (live.getAttribute('data-poll')) refresh(); }, 2000);
})();
"#;

/// The script tag; the layout puts it at the end of every page.
pub fn script() -> Markup {
    html! { script { (PreEscaped(SCRIPT)) } }
}
