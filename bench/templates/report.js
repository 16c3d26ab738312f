// bench report: unpack plotly.js and the series data, draw plots when they come into view.
"use strict";
const DATA = JSON.parse(document.getElementById("bench-data").textContent);
const RANKING = JSON.parse(document.getElementById("bench-ranking").textContent);

function b64bytes(text) {
  const bin = atob(text.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function gunzip(text) {
  const stream = new Blob([b64bytes(text)]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

// zigzag delta codes stored as byte planes (width bytes each) -> running values
function planes(bytes, off, k, width) {
  const out = new Float64Array(k);
  let acc = 0;
  for (let j = 0; j < k; j++) {
    let z = 0;
    for (let i = 0; i < width; i++) z += bytes[off + i * k + j] * 2 ** (8 * i);
    acc += (z % 2) ? -(z + 1) / 2 : z / 2;
    out[j] = acc;
  }
  return out;
}

// one packed trace -> {x, y} (x: row numbers); see bench.report.pack_trace
async function unpack(t) {
  const bytes = new Uint8Array(await gunzip(t.b));
  const off = t.x ? 4 * t.k : 0;
  const x = t.x ? Array.from(planes(bytes, 0, t.k, 4)) : Array.from({length: t.k}, (_, i) => i);
  const scale = (t.hi - t.lo) / 4095;
  const y = Array.from(planes(bytes, off, t.k, 2), v => t.lo + v * scale);
  return {x, y};
}

async function unpackHeat(h, start) {
  const codes = new Uint8Array(await gunzip(h.b));
  const z = [];
  for (let f = 0; f < h.f; f++) {
    const row = new Array(h.c);
    for (let j = 0; j < h.c; j++) row[j] = h.lo + codes[f * h.c + j] * (h.hi - h.lo) / 255;
    z.push(row);
  }
  const x = Array.from({length: h.c}, (_, j) => start + (j + 0.5) * h.step);
  return {z, x};
}

function loadPlotly() {
  const el = document.getElementById("plotly-gz");
  return gunzip(el.textContent).then(buf => new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = URL.createObjectURL(new Blob([buf], {type: "text/javascript"}));
    s.onload = resolve; s.onerror = reject;
    document.head.appendChild(s);
  }));
}

const CONFIG = {responsive: true, displaylogo: false, scrollZoom: false};

function shapesFor(s, withSignal) {
  const shapes = [];
  for (const [a, b] of s.labels.slice(0, 500)) {
    shapes.push({type: "rect", xref: "x", yref: "paper", x0: a - 0.5, x1: b - 0.5, y0: 0, y1: 1,
                 fillcolor: "rgba(214,39,40,0.15)", line: {width: 1, color: "rgba(214,39,40,0.3)"},
                 layer: "below"});
  }
  for (const v of [s.val, s.test].filter((x) => x !== null && x > 0)) {
    shapes.push({type: "line", xref: "x", yref: "paper", x0: v, x1: v, y0: 0, y1: 1,
                 line: {color: "#888", width: 1}});
  }
  if (s.thr !== null) {
    shapes.push({type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: s.thr, y1: s.thr,
                 line: {color: "#ff7f0e", width: 1.5, dash: "dash"}});
  }
  return shapes;
}

// x -> whether row x lies in one of the sorted [start, stop) ranges
function labelTest(ranges) {
  return x => {
    let lo = 0, hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (x < ranges[mid][0]) hi = mid - 1;
      else if (x >= ranges[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  };
}

async function drawSeries(cell, i) {
  const s = DATA.cells[cell.id][i];
  const plot = cell.querySelector(".plot");
  const sc = await unpack(s.scores);
  const vkey = cell.dataset.values;
  const traces = [];
  const withSignal = !!(vkey && DATA.values[vkey] && DATA.values[vkey][s.name]);
  if (withSignal) {
    const v = await unpack(DATA.values[vkey][s.name]);
    traces.push({type: "scatter", mode: "lines", name: "signal", uid: "signal", x: v.x, y: v.y,
                 yaxis: "y2",
                 line: {width: 1, color: "#555"}});
  }
  traces.push({type: "scatter", mode: "lines", name: "score", uid: "scores", x: sc.x, y: sc.y,
               line: {width: 1, color: "#1f77b4"}});
  if (s.thr !== null) {
    const ax = [], ay = [];
    sc.y.forEach((v, j) => { if (v >= s.thr) { ax.push(sc.x[j]); ay.push(v); } });
    traces.push({type: "scatter", mode: "markers", name: "alarm", x: ax, y: ay,
                 marker: {size: 4, color: "black"}});
  }
  // labelled rows as red points on the signal (or the scores), so single-row anomalies show
  const base = withSignal ? traces[0] : traces[traces.length - 1];
  const inLabel = labelTest(s.labels);
  const lx = [], ly = [];
  base.x.forEach((x, j) => { if (inLabel(x)) { lx.push(x); ly.push(base.y[j]); } });
  traces.push({type: "scatter", mode: "markers", name: "labelled anomaly", x: lx, y: ly,
               yaxis: withSignal ? "y2" : "y",
               marker: {size: 6, symbol: "circle-open", color: "#d62728"}});
  const logScale = s.scores.lo > 0 && s.scores.hi / s.scores.lo > 100;
  const layout = {
    title: {text: s.label + ": score (train | validation | test)", font: {size: 13}},
    margin: {l: 60, r: 20, t: 40, b: 40}, showlegend: true,
    legend: {orientation: "h", y: -0.15},
    xaxis: {title: {text: "row"}, range: [0, s.n - 1]},
    yaxis: {title: {text: "score"}, type: logScale ? "log" : "linear",
            domain: withSignal ? [0, 0.55] : [0, 1]},
    shapes: shapesFor(s, withSignal),
    annotations: [["train", 0], ["val", s.val], ["test", s.test]].filter(
      ([t, x]) => x !== null && (t === "train" || x > 0)).map(([t, x]) => (
      {text: t, x: x, xref: "x", yref: "paper", y: 1, yanchor: "bottom", xanchor: "left",
       showarrow: false, font: {size: 10, color: "#666"}})),
  };
  if (withSignal) layout.yaxis2 = {title: {text: "signal"}, domain: [0.62, 1]};
  await Plotly.react(plot, traces, layout, CONFIG);
  plot.dataset.series = s.name;
  const head = cell.querySelector(".metrics thead tr");
  const vals = cell.querySelector(".metrics tbody tr");
  head.replaceChildren(); vals.replaceChildren();
  const add = (k, v) => {
    const th = document.createElement("th"); th.textContent = k; head.appendChild(th);
    const td = document.createElement("td"); td.textContent = v; vals.appendChild(td);
  };
  add("series", s.name); add("rows", String(s.n));
  add("threshold", s.thr === null ? "" : s.thr.toPrecision(5));
  for (const [k, v] of s.metrics) add(k, v === null ? "n/a" : Number(v).toPrecision(4));
  const ratio = cell.querySelector(".ratio");
  if (s.cost_ratio) {
    const cr = s.cost_ratio;
    await Plotly.react(ratio, cr.tolerances.map((tol, i) => (
      {type: "scatter", mode: "lines+markers", name: "tolerance " + tol, x: cr.ratios,
       y: cr.cost[i], marker: {size: 5}})),
      {title: {text: "test event cost; threshold re-chosen on validation per ratio",
               font: {size: 11}, x: 0.02},
       margin: {l: 60, r: 10, t: 40, b: 40}, xaxis: {type: "log", title: {text: "c_missed / c_alarm"}},
       yaxis: {title: {text: "cost (false alarms)"}}, legend: {font: {size: 10}}},
      {...CONFIG, displayModeBar: false});
    ratio.style.display = "";
  } else {
    ratio.style.display = "none";
  }
  const heat = cell.querySelector(".heat");
  if (heat) {
    if (s.explain) {
      const h = await unpackHeat(s.explain, s.explain_start);
      await Plotly.react(heat, [{type: "heatmap", z: h.z, x: h.x, colorscale: "Magma",
                                 colorbar: {title: {text: "log(1+|error|)"}}}],
                         {title: {text: s.label + ": per-feature error on the test range",
                                  font: {size: 13}},
                          margin: {l: 60, r: 20, t: 40, b: 40},
                          xaxis: {title: {text: "row"}}, yaxis: {title: {text: "feature"}}},
                         CONFIG);
      heat.style.display = "";
    } else {
      heat.style.display = "none";
    }
  }
}

function setupCell(cell) {
  const select = cell.querySelector("select.series");
  if (!select) return;
  const n = select.options.length;
  const go = i => { select.selectedIndex = (i + n) % n; drawSeries(cell, select.selectedIndex); };
  select.addEventListener("change", () => drawSeries(cell, select.selectedIndex));
  cell.querySelector(".prev").addEventListener("click", () => go(select.selectedIndex - 1));
  cell.querySelector(".next").addEventListener("click", () => go(select.selectedIndex + 1));
  return () => drawSeries(cell, select.selectedIndex);
}

loadPlotly().then(() => {
  if (RANKING) {
    Plotly.newPlot("ranking", RANKING.data, RANKING.layout, CONFIG);
  }
  const draws = new Map();
  for (const cell of document.querySelectorAll(".cell")) {
    const draw = setupCell(cell);
    if (draw) draws.set(cell, draw);
  }
  const seen = new IntersectionObserver(entries => {
    for (const e of entries) {
      if (e.isIntersecting && draws.has(e.target)) {
        draws.get(e.target)();
        draws.delete(e.target);
        seen.unobserve(e.target);
      }
    }
  }, {rootMargin: "300px"});
  for (const cell of draws.keys()) seen.observe(cell);
  document.body.dataset.ready = "1";
});
