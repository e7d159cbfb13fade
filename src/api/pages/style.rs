//! The pages' style sheet, inlined into every page: a calm neutral look, one accent colour,
//! readable tables, and visible focus rings so the pages work from the keyboard.

pub const STYLE: &str = r#"
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --card:#fff;
  --accent:#0b5cad; --accent-fg:#fff; --ok:#116329; --wait:#7d4e00; --warn:#953800; --bad:#a40e26; --off:#424a53; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
:focus-visible { outline:3px solid #f0b400; outline-offset:2px; border-radius:4px; }
.skip { position:absolute; left:-9999px; }
.skip:focus { left:1rem; top:.5rem; background:var(--card); padding:.25rem .5rem; z-index:2; }
header.top { display:flex; align-items:center; gap:2rem; padding:.75rem 2rem; background:#24292f; color:#fff; }
header.top a { color:#fff; text-decoration:none; }
header.top nav a:hover { text-decoration:underline; }
.brand { display:flex; align-items:center; gap:.5rem; font-weight:700; font-size:1.1rem; }
.logo { display:inline-grid; place-items:center; width:1.7rem; height:1.7rem; border-radius:6px;
  background:var(--accent); font-weight:800; }
main { max-width:1040px; margin:2rem auto; padding:0 1.5rem; }
main:focus, [tabindex="-1"]:focus { outline:none; }
h1 { font-size:1.6rem; margin:0 0 .25rem; }
h2 { font-size:1.15rem; margin:0 0 .75rem; }
.sub { color:var(--muted); margin:0 0 1.5rem; }
.head { display:flex; justify-content:space-between; align-items:flex-start; gap:1rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:1.25rem 1.5rem;
  margin-bottom:1.5rem; }
.card.flush { padding:0; overflow-x:auto; }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:.7rem 1rem; border-bottom:1px solid var(--line); vertical-align:middle; }
th { font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); background:#fafbfc; }
tbody tr:last-child td { border-bottom:none; }
tbody tr:hover { background:#f6f8fa; }
td.num { font-variant-numeric: tabular-nums; }
.provider { display:inline-flex; align-items:center; gap:.5rem; }
.prov { display:inline-grid; place-items:center; width:1.8rem; height:1.8rem; border-radius:6px;
  color:#fff; font-size:.7rem; font-weight:800; letter-spacing:.02em; }
.prov.github { background:#24292f; } .prov.gitlab { background:#b8321b; } .prov.bitbucket { background:#0052cc; }
.badge { display:inline-block; padding:.1rem .6rem; border-radius:999px; font-size:.8rem; font-weight:600;
  border:1px solid currentColor; white-space:nowrap; }
.badge.ok { color:var(--ok); background:#dafbe1; } .badge.wait { color:var(--wait); background:#fff8c5; }
.badge.warn { color:var(--warn); background:#fff1e5; } .badge.bad { color:var(--bad); background:#ffebe9; }
.badge.off { color:var(--off); background:#eaeef2; }
.btn { display:inline-block; font:inherit; font-weight:600; padding:.5rem 1rem; border-radius:6px;
  border:1px solid var(--line); background:var(--card); color:var(--fg); cursor:pointer; text-decoration:none; }
.btn.primary { background:var(--accent); border-color:var(--accent); color:var(--accent-fg); }
.btn.primary:hover { background:#094a8c; }
.btn.danger { color:var(--bad); }
.alert { border:1px solid var(--bad); background:#ffebe9; color:#82071e; border-radius:8px;
  padding:.75rem 1rem; margin-bottom:1.25rem; }
.note { border:1px solid #54aeff; background:#ddf4ff; border-radius:8px; padding:.75rem 1rem; margin-bottom:1.25rem; }
.empty { padding:2.5rem 1rem; text-align:center; color:var(--muted); }
form .field { margin-bottom:1rem; }
label { display:block; font-weight:600; margin-bottom:.3rem; }
.hint { color:var(--muted); font-size:.85rem; margin:.25rem 0 0; }
input[type=text], select { font:inherit; padding:.45rem .6rem; border:1px solid var(--line); border-radius:6px;
  min-width:18rem; background:#fff; }
fieldset { border:none; padding:0; margin:0 0 1rem; }
legend { font-weight:600; margin-bottom:.5rem; }
.choices { display:grid; grid-template-columns:repeat(auto-fit, minmax(12rem, 1fr)); gap:.75rem; }
.choice { display:flex; align-items:center; gap:.6rem; border:1px solid var(--line); border-radius:8px;
  padding:.75rem; cursor:pointer; font-weight:600; margin:0; }
.choice:has(input:checked) { border-color:var(--accent); box-shadow:0 0 0 1px var(--accent); }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.4rem 1.5rem; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
ol.history { list-style:none; margin:0; padding:0; }
ol.history li { padding:.5rem 0; border-bottom:1px solid var(--line); display:grid;
  grid-template-columns:11rem 1fr; gap:1rem; }
ol.history li:last-child { border-bottom:none; }
ol.history time { color:var(--muted); font-size:.85rem; font-variant-numeric: tabular-nums; }
.actions { display:flex; gap:.75rem; align-items:center; flex-wrap:wrap; }
.muted { color:var(--muted); }
form.signout { margin-left:auto; display:flex; gap:.75rem; align-items:center; }
form.signout .btn { padding:.25rem .75rem; white-space:nowrap; }
.btn { white-space:nowrap; }
.spaced { margin-top:1.25rem; }
.head > form, .head > a.btn { margin-bottom:1rem; }
ul.plain { list-style:none; padding:0; margin:0; }
ul.plain li { display:flex; gap:.75rem; align-items:center; flex-wrap:wrap; padding:.4rem 0; border-bottom:1px solid var(--line); }
ul.plain li:last-child { border-bottom:none; }
.btn.small { padding:.25rem .7rem; font-size:.9rem; }
.inline { display:inline; margin:0; }
.row-form { display:flex; gap:.5rem; align-items:flex-end; flex-wrap:wrap; }
.row-form .field { margin:0; }
table + .row-form, p + .row-form { margin-top:1rem; }
.row-form input[type=text] { min-width:12rem; }
.filters { display:flex; gap:.75rem; align-items:flex-end; flex-wrap:wrap; margin-bottom:1rem; }
.filters .field { margin:0; }
.filters input[type=search] { font:inherit; padding:.45rem .6rem; border:1px solid var(--line); border-radius:6px; min-width:14rem; }
.group-head td { background:#f0f3f6; font-weight:700; font-size:.9rem; }
.who { overflow-wrap:anywhere; }
input[aria-invalid=true] { border-color:var(--bad); box-shadow:0 0 0 1px var(--bad); }
.field-error { color:var(--bad); font-weight:600; margin:.3rem 0 0; }
.alert a { color:#82071e; font-weight:600; }
.note a { color:#0a3069; font-weight:600; }
ol.steps { list-style:none; margin:0; padding:0; display:grid; grid-template-columns:repeat(auto-fit, minmax(9rem, 1fr)); gap:.5rem; }
ol.steps li { border:1px solid var(--line); border-radius:8px; padding:.6rem .75rem; background:#fafbfc; }
ol.steps li .n { display:inline-grid; place-items:center; width:1.5rem; height:1.5rem; border-radius:50%;
  border:1px solid var(--muted); font-size:.8rem; font-weight:700; margin-right:.4rem; }
ol.steps li.done .n { background:var(--ok); border-color:var(--ok); color:#fff; }
ol.steps li.current { border-color:var(--accent); box-shadow:0 0 0 1px var(--accent); background:#fff; }
ol.steps li.current .n { background:var(--accent); border-color:var(--accent); color:#fff; }
ol.steps li.stopped { border-color:var(--bad); box-shadow:0 0 0 1px var(--bad); background:#fff; }
ol.steps li.stopped .n { background:var(--bad); border-color:var(--bad); color:#fff; }
ol.steps .state { display:block; font-size:.8rem; color:var(--muted); margin-top:.2rem; }
.step-help { margin:.9rem 0 0; }
.danger-zone { border-color:#ffcecb; }
.btn.danger { color:var(--bad); border-color:#ffcecb; }
.btn.danger.solid { color:#fff; background:var(--bad); border-color:var(--bad); }
code { overflow-wrap:anywhere; }
@media (max-width: 640px) {
  header.top { flex-wrap:wrap; gap:.5rem 1rem; padding:.75rem 1rem; }
  header.top nav { white-space:nowrap; }
  form.signout { gap:.5rem; margin-left:0; width:100%; justify-content:space-between; }
  main { padding:0 .75rem; margin:1rem auto; }
  .head { flex-wrap:wrap; }
  .card { padding:1rem; }
  input[type=text], select, .filters input[type=search] { min-width:0; width:100%; }
  .row-form, .filters { flex-direction:column; align-items:stretch; }
  /* Tables become cards: every cell keeps its column's name. */
  table.cards thead { position:absolute; left:-9999px; }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display:block; width:100%; }
  table.cards tr { border-bottom:1px solid var(--line); padding:.5rem 0; }
  table.cards td { border:none; padding:.3rem 1rem; display:grid; grid-template-columns:7.5rem 1fr; gap:.5rem; }
  table.cards td > * { justify-self:start; }
  table.cards td::before { content:attr(data-label); color:var(--muted); font-size:.8rem; font-weight:600;
    text-transform:uppercase; letter-spacing:.04em; }
  table.cards tr.group-head td { display:block; }
  table.cards tr.group-head td::before { content:none; }
  dl.facts { grid-template-columns:1fr; gap:.1rem; }
  dl.facts dd { margin-bottom:.5rem; overflow-wrap:anywhere; }
  ol.history li { grid-template-columns:1fr; gap:.1rem; }
}
"#;
