// The report page's script: draws each view (Vega-Lite, by vega-embed), fits it to the screen, writes its readout
// as text and shows each slider's value as the quantity it sets. It computes no number of the material: the
// views compute their values, this script formats and places them. window.bmnnViews holds each Vega view and
// window.bmnnReady resolves once all are drawn (the browser tests use both).

const GUTTER = 90;   // room beside a panel for its y axis and title, in CSS pixels
const SIDE_BY_SIDE = 760;  // narrower than this, panels go under each other

// one rule for every number, as the page's tables (bmnn.report._fmt): about six significant digits, scientific
// notation below 1e-3 and from 1e6 on
const SUPER = {"-": "\u207b", "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074",
               "5": "\u2075", "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079"};
function fmt(v) {
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v !== "number") return String(v);
  if (Number.isNaN(v)) return "undefined";
  if (!Number.isFinite(v)) return v > 0 ? "\u221e" : "-\u221e";
  if (Object.is(v, -0)) return "-0";
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const r = evenTie(v, 6);
  const short = Number(r.toPrecision(6));
  const trim = (t) => (t.includes(".") ? t.replace(/0+$/, "").replace(/\.$/, "") : t);
  if (short === 0 || (Math.abs(short) >= 1e-3 && Math.abs(short) < 1e6)) return trim(r.toPrecision(6));
  const [mant, exp] = r.toExponential(5).split("e");
  return trim(mant) + " \u00d7 10" + String(Number(exp)).replace(/[-0-9]/g, (c) => SUPER[c]);
}

// Python rounds a value that lies exactly half-way between two kept digits to the even one; toPrecision and
// toExponential round it away from zero. For such a tie with an even digit below, the neighbouring double toward
// zero rounds as Python does (a tie is exact, so no other value moves).
function evenTie(x, digits) {
  const exact = Math.abs(x).toPrecision(100).replace(/e.*$/, "").replace(".", "").replace(/^0+/, "");
  if (exact.length <= digits || exact[digits] !== "5" || /[1-9]/.test(exact.slice(digits + 1))) return x;
  if (Number(exact[digits - 1]) % 2 === 1) return x;
  const bits = new DataView(new ArrayBuffer(8));
  bits.setFloat64(0, x);
  bits.setBigUint64(0, bits.getBigUint64(0) - 1n);  // one step toward zero, whatever the sign
  return bits.getFloat64(0);
}

function show(v) {
  if (Array.isArray(v)) return "[" + v.map(show).join(", ") + "]";
  if (v !== null && typeof v === "object") return Object.entries(v).map(([k, x]) => k + " " + show(x)).join(", ");
  return fmt(v);
}

// the spec laid out for a box `avail` pixels wide: panels under each other when two do not fit side by side,
// no panel wider than the box, legends in two columns, long titles on two lines
function fit(spec, avail, shrink = 0) {
  const narrow = avail < SIDE_BY_SIDE;
  const widest = Math.max(120, avail - GUTTER - shrink);
  const walk = (node) => {
    if (Array.isArray(node)) { node.forEach(walk); return; }
    if (node === null || typeof node !== "object") return;
    if (narrow && node.hconcat) { node.vconcat = node.hconcat; delete node.hconcat; }
    if (typeof node.width === "number" && node.width > widest) node.width = widest;
    if (narrow && node.encoding && node.encoding.color && typeof node.encoding.color === "object" && node.encoding.color.legend !== null) {
      node.encoding.color.legend = {...(node.encoding.color.legend || {}), orient: "top", columns: 2};
    }
    if (typeof node.title === "string" && node.title.length * 7 > widest) node.title = wrap(node.title, widest / 7);
    if (node.title && typeof node.title === "object" && typeof node.title.text === "string" && node.title.text.length * 7 > widest) {
      node.title.text = wrap(node.title.text, widest / 7);
    }
    Object.values(node).forEach(walk);
  };
  const out = structuredClone(spec);
  walk(out);
  return out;
}

function wrap(text, chars) {
  const lines = [""];
  for (const word of text.split(" ")) {
    const last = lines[lines.length - 1];
    if (last && (last + " " + word).length > chars) lines.push(word);
    else lines[lines.length - 1] = last ? last + " " + word : word;
  }
  return lines;
}

// the readout: every hidden text mark named readout*, in order, written as a list of label and value
function readoutItems(view) {
  const out = [];
  const visit = (node) => {
    if (!node) return;
    if (node.marktype === "text" && typeof node.name === "string" && node.name.startsWith("readout")) {
      node.items.forEach((it) => out.push(it.datum.item));
      return;
    }
    (node.items || []).forEach(visit);
  };
  visit(view.scenegraph().root);
  return out;
}

const isRow = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const rawText = (v) => (typeof v === "number" ? String(v) : JSON.stringify(v));

// the readout: single values as a list of label and value, rows of named values (one per coefficient) as a table;
// only what changed is rewritten, so that a screen reader hears only that
function writeReadout(view, box) {
  const items = readoutItems(view);
  const single = items.filter((it) => !isRow(it.value));
  const rows = items.filter((it) => isRow(it.value));
  let dl = box.querySelector("dl");
  if (!dl) { dl = document.createElement("dl"); box.append(dl); }
  const same = dl.children.length === single.length &&
    single.every((it, i) => dl.children[i].firstElementChild.textContent === it.label);
  if (!same) {
    dl.replaceChildren(...single.map((it) => {
      const row = document.createElement("div");
      row.append(document.createElement("dt"), document.createElement("dd"));
      row.firstElementChild.textContent = it.label;
      return row;
    }));
  }
  single.forEach((it, i) => {
    const dd = dl.children[i].lastElementChild;
    const raw = rawText(it.value);
    if (dd.dataset.value !== raw) { dd.dataset.value = raw; dd.textContent = show(it.value); }
  });
  let table = box.querySelector("table");
  if (!rows.length) { if (table) table.remove(); return; }
  const columns = Object.keys(rows[0].value);
  const key = JSON.stringify([columns, rows.map((it) => it.label)]);
  if (!table || table.dataset.key !== key) {
    table = table || box.appendChild(document.createElement("table"));
    table.dataset.key = key;
    const head = document.createElement("tr");
    const corner = document.createElement("th");
    corner.scope = "col";
    corner.textContent = box.dataset.rows || "";
    head.append(corner, ...columns.map((c) => {
      const th = document.createElement("th"); th.scope = "col"; th.textContent = c; return th;
    }));
    table.replaceChildren(head, ...rows.map((it) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th"); th.scope = "row"; th.textContent = it.label;
      tr.append(th, ...columns.map(() => document.createElement("td")));
      return tr;
    }));
  }
  rows.forEach((it, i) => {
    const tr = table.rows[i + 1];
    const raw = rawText(it.value);
    if (tr.dataset.value === raw) return;
    tr.dataset.value = raw;
    columns.forEach((c, j) => { tr.cells[j + 1].textContent = show(it.value[c]); });
  });
}

// each slider shows the quantity it sets: a grid's value for an index slider, 10^x for a log slider; returns the
// function that brings every shown value up to date (a slider also moves when the view moves it: pointing at a
// test image moves the image slider, and no input event says so)
function showSliders(el, shown) {
  const updates = [];
  for (const [name, [quantity, how]] of Object.entries(shown)) {
    const input = el.querySelector(`input[type=range][name="${name}"]`);
    if (!input) continue;
    const raw = input.nextElementSibling;  // vega-embed's own value (the raw input) is replaced by ours
    if (raw && raw.tagName === "SPAN") raw.hidden = true;
    let out = input.parentElement.querySelector("output");
    if (!out) { out = document.createElement("output"); input.after(out); }
    const update = () => {
      const x = Number(input.value);
      const value = Array.isArray(how) ? how[Math.round(x)]
        : how === "pow10" ? fmt(Number(Math.pow(10, x).toPrecision(3)))
        : how === "pow10round" ? String(Math.round(Math.pow(10, x))) : fmt(x);
      const text = `${quantity} = ${value}`;
      if (out.textContent !== text) { out.textContent = text; input.setAttribute("aria-valuetext", text); }
    };
    input.addEventListener("input", update);
    updates.push(update);
  }
  const all = () => updates.forEach((u) => u());
  all();
  return all;
}

// what a screen reader hears: one short line, the values that changed, once the moves pause (the readout itself
// is not a live region: a table of thirty values would be read out at every key press)
function announce(box, before, after) {
  const changed = after.filter((line) => !before.includes(line));
  if (!changed.length) return;  // another signal of the same move: keep what is waiting to be said
  const live = box.parentElement.querySelector(".announce");
  live.waiting = [...(live.waiting || []).filter((l) => !changed.some((c) => c.split(" ")[0] === l.split(" ")[0])),
                  ...changed];
  clearTimeout(live.pending);
  live.pending = setTimeout(() => { live.textContent = live.waiting.slice(-4).join("; "); live.waiting = []; }, 600);
}

function lines(box) {
  return Array.from(box.querySelectorAll("dl > div")).map((d) => `${d.firstChild.textContent} ${d.lastChild.textContent}`);
}

// the view's parameters (the signal's own value where there is one: an input shows it rounded to its step) and
// which input has the focus, to carry over a redraw
function inputsOf(el, view) {
  const value = (i) => {
    try { const v = view.signal(i.name); if (v !== undefined) return v; } catch (e) { /* a selection's input */ }
    return i.type === "radio" ? i.value : Number(i.value);
  };
  return Array.from(el.querySelectorAll(".vega-bind input")).filter((i) => i.type !== "radio" || i.checked)
    .map((i) => [i.name, value(i), i === document.activeElement]);
}

const drawing = {};  // per view: the draw in progress, so that two never overlap

function draw(script) {
  const id = script.dataset.view;
  drawing[id] = (drawing[id] || Promise.resolve()).then(() => drawNow(script)).catch((e) => console.error(e));
  return drawing[id];
}

async function drawNow(script) {
  const id = script.dataset.view;
  const el = document.getElementById(id);
  const spec = JSON.parse(script.textContent);
  const shown = JSON.parse(script.dataset.shown || "{}");
  const box = document.getElementById(id + "-readout");
  const figure = el.parentElement;
  const style = getComputedStyle(figure);
  const avail = Math.floor(figure.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight));
  const old = window.bmnnViews[id];
  const kept = old ? inputsOf(el, old) : [];
  if (old) old.finalize();
  el.replaceChildren();
  let result = await vegaEmbed("#" + id, fit(spec, avail), {actions: false, renderer: "svg"});
  const over = el.querySelector("svg").getBoundingClientRect().width - avail;
  if (over > 0) {  // axis labels or a legend wider than allowed for: narrow the panels by the excess, once
    result.view.finalize();
    el.replaceChildren();
    result = await vegaEmbed("#" + id, fit(spec, avail, Math.ceil(over) + 4), {actions: false, renderer: "svg"});
  }
  const view = result.view;
  el.dataset.fitted = String(avail);
  for (const [name, value] of kept) {  // a redraw (the screen turned) keeps where the reader had put things
    try { view.signal(name, value); } catch (e) { /* a selection's input: restored by its own value below */ }
    const inputs = Array.from(el.querySelectorAll(`.vega-bind input[name="${name}"]`));
    for (const input of inputs) {
      if (input.type === "radio") input.checked = String(input.value) === String(value);
      else input.value = String(value);
    }
  }
  if (kept.length) await view.runAsync();
  const updateSliders = showSliders(el, shown);
  const refresh = () => view.runAsync().then(() => {
    const before = lines(box);
    writeReadout(view, box);
    updateSliders();
    announce(box, before, lines(box));
  });
  for (const name of Object.keys(view.getState({data: () => false, signals: () => true}).signals || {})) {
    try { view.addSignalListener(name, refresh); } catch (e) { /* not a signal of the top scope */ }
  }
  writeReadout(view, box);
  const focused = kept.find(([, , f]) => f);
  if (focused) {
    const input = el.querySelector(`.vega-bind input[name="${focused[0]}"]`);
    if (input) input.focus();
  }
  window.bmnnViews[id] = view;
}

// a box that scrolls sideways (a wide formula or table) is a labelled, keyboard-focusable region; one that fits
// is not a tab stop
function markScrollers() {
  for (const box of document.querySelectorAll(".formula, .scroll, .figure-box, figure.view")) {
    const scrolls = box.scrollWidth > box.clientWidth;
    box.classList.toggle("overflows", scrolls);
    const hint = box.previousElementSibling && box.previousElementSibling.classList.contains("scroll-hint")
      ? box.previousElementSibling : null;
    if (scrolls && !hint) {  // said in words for the eye (the region's label says it to a screen reader)
      const p = document.createElement("p");
      p.className = "scroll-hint";
      p.setAttribute("aria-hidden", "true");
      p.textContent = "\u2194 wider than the screen: scroll sideways";
      box.before(p);
    } else if (!scrolls && hint) {
      hint.remove();
    }
    if (scrolls) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", (box.dataset.label || "formula") + " (scrolls sideways)");
    } else if (box.hasAttribute("tabindex")) {
      box.removeAttribute("tabindex");
      if (box.dataset.label) { box.removeAttribute("role"); box.removeAttribute("aria-label"); }
    }
  }
}

window.bmnnViews = {};
window.bmnnFormat = fmt;  // the browser tests compare it with the tables' rule
const scripts = Array.from(document.querySelectorAll("script[data-view]"));
window.bmnnReady = Promise.all(scripts.map(draw)).then(markScrollers);
markScrollers();
let pending = null;
window.addEventListener("resize", () => {  // a width change of more than 40 px redraws the views (heights do not)
  clearTimeout(pending);
  pending = setTimeout(() => {
    Promise.all(scripts.map((s) => {
      const el = document.getElementById(s.dataset.view);
      return Math.abs(el.parentElement.clientWidth - Number(el.dataset.fitted)) > 40 ? draw(s) : null;
    })).then(markScrollers);
  }, 200);
});
