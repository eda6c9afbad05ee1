/**
 * @module edge/views/style
 * The admin UI's one stylesheet, served at /assets/app.css so the Content
 * Security Policy can forbid inline styles and scripts entirely.
 */
export const CSS = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d232b;--muted:#5d6875;--line:#dde2e8;--accent:#2456c7;--ok:#17803d;--bad:#c4291c;--warn:#a15c00;--unk:#6b7280}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
a{color:var(--accent)}
header.top{background:#16202e;color:#fff;padding:0 1.5rem;display:flex;align-items:center;gap:1.5rem;flex-wrap:wrap}
header.top .brand{font-weight:700;font-size:1.1rem;padding:.8rem 0;color:#fff;text-decoration:none}
header.top nav{display:flex;gap:.2rem;flex-wrap:wrap;flex:1}
header.top nav a{color:#cbd5e1;text-decoration:none;padding:.8rem .7rem;border-bottom:3px solid transparent}
header.top nav a:hover,header.top nav a.here{color:#fff;border-bottom-color:#7aa2ff}
header.top form{margin:0}
main{max-width:1100px;margin:1.5rem auto;padding:0 1.5rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem 1.2rem;margin-bottom:1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:.8rem}
.stat{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}
.stat .label{color:var(--muted);font-size:.85rem}
.stat .value{font-size:1.25rem;font-weight:600}
table{width:100%;border-collapse:collapse;background:var(--card)}
th,td{text-align:left;padding:.5rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
td.mono,code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
td.mono.name{white-space:nowrap;word-break:normal}
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.8rem;font-weight:600;color:#fff;white-space:nowrap}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}.badge.unk{background:var(--unk)}
.flash{border-radius:8px;padding:.7rem 1rem;margin-bottom:1rem;border:1px solid}
.flash.ok{background:#e9f7ee;border-color:#a6d9b6}.flash.error{background:#fdecea;border-color:#f3b4ad}
.secret{font-family:ui-monospace,monospace;font-size:1.1rem;background:#fffbe6;border:1px dashed #d6b100;padding:.7rem 1rem;border-radius:6px;word-break:break-all;user-select:all}
.warning{background:#fff4e5;border:1px solid #f0c27b;border-radius:8px;padding:.8rem 1rem}
form.inline{display:inline}
form.stack{display:grid;gap:.6rem;max-width:460px}
form.row{display:flex;gap:.5rem;flex-wrap:wrap;align-items:end}
label{display:grid;gap:.2rem;font-size:.9rem;color:var(--muted)}
input,select,textarea{font:inherit;padding:.45rem .6rem;border:1px solid #bfc7d1;border-radius:6px;background:#fff;color:var(--ink);min-width:14rem}
button{font:inherit;padding:.45rem .9rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}
button.danger{background:var(--bad);border-color:var(--bad)}
button.link{background:none;border:none;color:#cbd5e1;padding:.3rem}
.muted{color:var(--muted)}
.small{font-size:.85rem}
.chart{width:100%;height:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
.chart .axis{stroke:var(--line)}
.chart .line{fill:none;stroke:var(--accent);stroke-width:1.5}
.chart .down{fill:var(--bad);opacity:.75}
.chart text{fill:var(--muted);font-size:11px}
.login{max-width:380px;margin:4rem auto}
figure{margin:0}
footer{color:var(--muted);font-size:.8rem;text-align:center;margin:2rem 0}
`;
