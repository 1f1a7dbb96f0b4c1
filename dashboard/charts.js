// Two small charts drawn as inline SVG: a histogram of scores and a positive/negative split bar.
// Each bar carries data-count so a reader (or a test) can read the numbers, and a <title> as a tooltip.

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes = {}, text = "") {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    element.setAttribute(key, String(value));
  }
  if (text) {
    element.textContent = text;
  }
  return element;
}

// Counts of scores in `bins` equal-width bins over [0, 1]; a score of exactly 1 goes in the last bin.
export function binScores(scores, bins = 10) {
  const counts = new Array(bins).fill(0);
  for (const score of scores) {
    counts[Math.min(bins - 1, Math.max(0, Math.floor(score * bins)))] += 1;
  }
  return counts;
}

export function histogram(scores, { bins = 10, width = 420, height = 200 } = {}) {
  const counts = binScores(scores, bins);
  const margin = { top: 10, right: 10, bottom: 34, left: 40 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const highest = Math.max(1, ...counts);
  const svg = svgElement("svg", {
    viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `Histogram of ${scores.length} scores in ${bins} bins`,
  });
  const barWidth = plotWidth / bins;
  counts.forEach((count, index) => {
    const barHeight = (count / highest) * plotHeight;
    const low = index / bins;
    const high = (index + 1) / bins;
    const bar = svgElement("rect", {
      x: margin.left + index * barWidth + 1, y: margin.top + plotHeight - barHeight,
      width: Math.max(1, barWidth - 2), height: barHeight,
      class: high <= 0.5 ? "bar negative" : "bar positive", "data-count": count,
      "data-range": `${low.toFixed(1)}-${high.toFixed(1)}`,
    });
    bar.appendChild(svgElement("title", {}, `${low.toFixed(1)} to ${high.toFixed(1)}: ${count} reviews`));
    svg.appendChild(bar);
  });
  const axisY = margin.top + plotHeight;
  svg.appendChild(svgElement("line", { x1: margin.left, y1: axisY, x2: margin.left + plotWidth, y2: axisY, class: "axis" }));
  svg.appendChild(svgElement("line", { x1: margin.left, y1: margin.top, x2: margin.left, y2: axisY, class: "axis" }));
  for (const tick of [0, 0.5, 1]) {
    const x = margin.left + tick * plotWidth;
    svg.appendChild(svgElement("text", { x, y: axisY + 14, "text-anchor": "middle", class: "tick" }, String(tick)));
  }
  svg.appendChild(svgElement("text", { x: margin.left + plotWidth / 2, y: height - 4, "text-anchor": "middle", class: "tick" }, "score"));
  svg.appendChild(svgElement("text", { x: margin.left - 6, y: margin.top + 10, "text-anchor": "end", class: "tick" }, String(highest)));
  svg.appendChild(svgElement("text", { x: margin.left - 6, y: axisY, "text-anchor": "end", class: "tick" }, "0"));
  return svg;
}

export function splitBar(positive, negative, { width = 420, height = 64 } = {}) {
  const total = positive + negative;
  const svg = svgElement("svg", {
    viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `${positive} positive, ${negative} negative`,
  });
  const positiveWidth = total ? (positive / total) * width : 0;
  const parts = [
    { label: "positive", count: positive, x: 0, w: positiveWidth },
    { label: "negative", count: negative, x: positiveWidth, w: width - positiveWidth },
  ];
  for (const part of parts) {
    if (!total) {
      break;
    }
    const rect = svgElement("rect", {
      x: part.x, y: 0, width: part.w, height: 28, class: `bar ${part.label}`, "data-count": part.count,
      "data-sentiment": part.label,
    });
    const share = ((part.count / total) * 100).toFixed(1);
    rect.appendChild(svgElement("title", {}, `${part.label}: ${part.count} (${share}%)`));
    svg.appendChild(rect);
  }
  const share = (n) => (total ? `${((n / total) * 100).toFixed(1)}%` : "-");
  svg.appendChild(svgElement("text", { x: 0, y: 48, class: "legend" }, `positive ${positive} (${share(positive)})`));
  svg.appendChild(svgElement("text", { x: width, y: 48, "text-anchor": "end", class: "legend" }, `negative ${negative} (${share(negative)})`));
  return svg;
}

// Horizontal bars for an explanation's n-gram weights (positive to the right, negative to the left).
export function weightBars(entries, { width = 200, height = 14 } = {}) {
  const strongest = Math.max(1e-9, ...entries.map((e) => Math.abs(e.weight)));
  return entries.map((entry) => {
    const svg = svgElement("svg", { width, height, viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" });
    const w = (Math.abs(entry.weight) / strongest) * (width / 2);
    const x = entry.weight >= 0 ? width / 2 : width / 2 - w;
    svg.appendChild(svgElement("rect", { x, y: 2, width: w, height: height - 4, class: entry.weight >= 0 ? "bar positive" : "bar negative" }));
    return svg;
  });
}
