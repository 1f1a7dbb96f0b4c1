// The results dashboard: jobs, one job's charts, rejected rows and results, explanations, the model card.
import { ApiError, collect, getFile, getJson, jobPath, storeToken, storedToken } from "./api.js";
import { histogram, splitBar, weightBars } from "./charts.js";
import { renderMarkdown } from "./markdown.js";

const FINAL = new Set(["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"]);
// Bounds of what the page reads to draw one job (each page of the API is at most 100 items).
const HISTOGRAM_MAX_SCORES = 2000;
const REJECTED_MAX_ROWS = 1000;
const REFRESH_MS = 4000;

const $ = (id) => document.getElementById(id);
const state = { jobs: [], jobsCursor: null, job: null, pages: [null], page: 0, nextCursor: null, refreshTimer: null };

function cell(row, text, { field, numeric = false } = {}) {
  const td = row.insertCell();
  td.textContent = text;
  if (field) td.dataset.field = field;
  if (numeric) td.className = "num";
  return td;
}

function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

function report(error) {
  showMessage(error instanceof ApiError ? error.message : `Unexpected error: ${error.message}`);
}

// Times as the API gives them (UTC), to the second.
const when = (iso) => (iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "-");
const percent = (part, whole) => (whole ? `${((part / whole) * 100).toFixed(1)}%` : "-");

// When the file reached the bucket (jobs older than uploaded_at have only their start).
const uploaded = (job) => job.uploaded_at || job.created_at;

// From upload to the end of the job.
function duration(job) {
  if (!job.finished_at) return "";
  const seconds = (Date.parse(job.finished_at) - Date.parse(uploaded(job))) / 1000;
  return seconds >= 0 ? `${seconds < 100 ? seconds.toFixed(1) : Math.round(seconds)} s` : "";
}

function progress(job, td) {
  const done = job.counts.classified + job.counts.rejected;
  const bar = document.createElement("progress");
  bar.max = Math.max(1, job.counts.total);
  bar.value = FINAL.has(job.status) && job.status !== "FAILED" ? bar.max : done;
  td.appendChild(bar);
  const text = job.status === "PENDING" && !job.counts.total ? " reading the file" : ` ${done} / ${job.counts.total}`;
  td.append(text);
}

// ------------------------------------------------------------------------------------------- jobs
function renderJobs() {
  const body = $("jobs").tBodies[0];
  body.replaceChildren();
  for (const job of state.jobs) {
    const row = body.insertRow();
    row.dataset.jobId = job.job_id;
    row.tabIndex = 0;
    if (state.job && state.job.job_id === job.job_id) row.classList.add("selected");
    cell(row, job.source_key, { field: "source_key" }).title = job.job_id;
    const status = cell(row, job.status, { field: "status" });
    status.className = `status ${job.status.toLowerCase()}`;
    if (job.error) status.title = job.error;
    progress(job, cell(row, "", { field: "progress" }));
    for (const name of ["total", "classified", "rejected", "positive", "negative"]) {
      cell(row, String(job.counts[name]), { field: name, numeric: true });
    }
    cell(row, percent(job.counts.positive, job.counts.classified), { field: "positive_share", numeric: true });
    cell(row, when(uploaded(job)), { field: "uploaded_at" }).className = "time";
    cell(row, when(job.finished_at), { field: "finished_at" }).className = "time";
    cell(row, duration(job) || "-", { field: "duration", numeric: true });
    row.addEventListener("click", () => selectJob(job.job_id));
    row.addEventListener("keydown", (event) => event.key === "Enter" && selectJob(job.job_id));
  }
  $("jobs-more").hidden = !state.jobsCursor;
  const running = state.jobs.filter((job) => !FINAL.has(job.status)).length;
  $("jobs-summary").textContent =
    `${state.jobs.length} job${state.jobs.length === 1 ? "" : "s"}${running ? `, ${running} running` : ""}`;
  $("jobs").dataset.state = "ready";
}

async function loadJobs({ more = false } = {}) {
  try {
    const page = await getJson("/jobs", { limit: 100, cursor: more ? state.jobsCursor : null });
    state.jobs = more ? [...state.jobs, ...page.items] : page.items;
    state.jobsCursor = page.cursor;
    showMessage("");
    renderJobs();
    scheduleRefresh();
  } catch (error) {
    report(error);
  }
}

// While a job runs, the list (and the open job) refresh themselves.
function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  if (state.jobs.some((job) => !FINAL.has(job.status))) {
    state.refreshTimer = setTimeout(async () => {
      const before = state.job && state.jobs.find((job) => job.job_id === state.job.job_id);
      await loadJobs();
      const after = before && state.jobs.find((job) => job.job_id === before.job_id);
      if (after && JSON.stringify(after) !== JSON.stringify(before)) selectJob(after.job_id);
    }, REFRESH_MS);
  }
}

// ------------------------------------------------------------------------------------------- one job
function fact(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dd.dataset.field = term;
  list.append(dt, dd);
}

async function selectJob(jobId) {
  if (window.location.hash !== `#job=${encodeURIComponent(jobId)}`) {
    history.replaceState(null, "", `#job=${encodeURIComponent(jobId)}`);
  }
  $("job-section").dataset.state = "loading";
  try {
    const job = await getJson(jobPath(jobId));
    state.job = job;
    renderJobs();
    $("job-section").hidden = false;
    $("job-title").textContent = `Job: ${job.source_key}`;
    const facts = $("job-facts");
    facts.replaceChildren();
    fact(facts, "job id", job.job_id);
    fact(facts, "status", job.status);
    fact(facts, "model version", job.model_version || "-");
    fact(facts, "uploaded (UTC)", when(uploaded(job)));
    fact(facts, "finished (UTC)", job.finished_at ? `${when(job.finished_at)}, after ${duration(job)}` : "-");
    if (job.error) fact(facts, "error", job.error);
    $("split").replaceChildren(splitBar(job.counts.positive, job.counts.negative));
    $("explanation").hidden = true;
    $("export").replaceChildren();
    state.pages = [null];
    state.page = 0;
    await Promise.all([drawHistogram(job), drawRejected(job), loadResults()]);
    $("job-section").dataset.state = "ready";
  } catch (error) {
    $("job-section").dataset.state = "failed";
    report(error);
  }
}

async function drawHistogram(job) {
  const { items, complete } = await collect(jobPath(job.job_id, "/reviews"), { maxItems: HISTOGRAM_MAX_SCORES });
  $("histogram").replaceChildren(histogram(items.map((item) => item.score)));
  $("histogram-note").textContent = complete
    ? `(${items.length} results)`
    : `(the first ${items.length} of ${job.counts.classified} results, in file order)`;
  showAgreement(items, complete);
}

// Where the file labelled its reviews (a label field or column, an aclImdb pos/neg folder), how often the
// model's label is the file's, over the results the histogram read.
function showAgreement(items, complete) {
  const labelled = items.filter((item) => item.given_label);
  const agreed = labelled.filter((item) => item.label === item.given_label).length;
  const over = complete ? "" : ` (of the first ${items.length} results)`;
  const share = percent(agreed, labelled.length);
  $("agreement").textContent = labelled.length
    ? `The file's own labels: the model agrees on ${agreed} of ${labelled.length} (${share})${over}`
    : "";
}

async function drawRejected(job) {
  const { items, complete } = await collect(jobPath(job.job_id, "/rejected"), { maxItems: REJECTED_MAX_ROWS });
  const byReason = new Map();
  for (const item of items) {
    if (!byReason.has(item.reason)) byReason.set(item.reason, []);
    byReason.get(item.reason).push(item.row);
  }
  const body = $("rejected").tBodies[0];
  body.replaceChildren();
  const ordered = [...byReason.entries()].sort((a, b) => b[1].length - a[1].length);
  for (const [reason, rows] of ordered) {
    const row = body.insertRow();
    row.dataset.reason = reason;
    cell(row, reason, { field: "reason" });
    cell(row, String(rows.length), { field: "rows", numeric: true });
    cell(row, rows.slice(0, 10).join(", ") + (rows.length > 10 ? ", ..." : ""), { field: "examples" });
  }
  if (!ordered.length) {
    cell(body.insertRow(), "No rejected rows.").colSpan = 3;
  }
  $("rejected-note").textContent = complete
    ? `(${items.length} rows)`
    : `(grouped from the first ${items.length} of ${job.counts.rejected} rejected rows)`;
}

// One page of results; the table's data-state says when it shows what was asked for.
async function loadResults() {
  const job = state.job;
  $("results").dataset.state = "loading";
  const sentiment = $("sentiment").value;
  const limit = Number($("page-size").value);
  const page = await getJson(jobPath(job.job_id, "/reviews"), { sentiment, limit, cursor: state.pages[state.page] });
  state.nextCursor = page.cursor;
  const body = $("results").tBodies[0];
  body.replaceChildren();
  for (const item of page.items) {
    const row = body.insertRow();
    row.dataset.row = item.row;
    row.dataset.label = item.label;
    cell(row, String(item.row), { field: "row", numeric: true });
    cell(row, item.review_id, { field: "review_id" });
    cell(row, item.label, { field: "label" }).className = `label ${item.label}`;
    // null (and absent, from an API before the field): the uploaded file gave the review no label.
    cell(row, item.given_label ?? "-", { field: "given_label" });
    cell(row, item.score.toFixed(3), { field: "score", numeric: true });
    // null: the model that classified the review does not flag uncertain scores.
    cell(row, item.uncertain == null ? "-" : item.uncertain ? "uncertain" : "no", { field: "uncertain" });
    cell(row, item.text_excerpt, { field: "text_excerpt" }).className = "excerpt";
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Explain";
    button.addEventListener("click", () => explainRow(job.job_id, item.row));
    row.insertCell().appendChild(button);
  }
  if (!page.items.length) {
    cell(body.insertRow(), "No results.").colSpan = 8;
  }
  const first = state.page * limit + (page.items.length ? 1 : 0);
  $("page-label").textContent = `page ${state.page + 1}: rows ${first}-${state.page * limit + page.items.length}`;
  $("page-prev").disabled = state.page === 0;
  $("page-next").disabled = !state.nextCursor;
  $("results").dataset.state = "ready";
}

async function turnPage(step) {
  try {
    if (step > 0 && state.nextCursor) {
      state.pages[state.page + 1] = state.nextCursor;
      state.page += 1;
    } else if (step < 0 && state.page > 0) {
      state.page -= 1;
    }
    await loadResults();
  } catch (error) {
    report(error);
  }
}

async function restartResults() {
  state.pages = [null];
  state.page = 0;
  try {
    await loadResults();
  } catch (error) {
    report(error);
  }
}

function ngramList(title, entries) {
  const box = document.createElement("div");
  box.appendChild(Object.assign(document.createElement("h4"), { textContent: title }));
  const list = document.createElement("ol");
  const bars = weightBars(entries);
  entries.forEach((entry, index) => {
    const item = document.createElement("li");
    item.dataset.ngram = entry.ngram;
    item.append(bars[index], ` ${entry.ngram} (${entry.weight >= 0 ? "+" : ""}${entry.weight})`);
    list.appendChild(item);
  });
  box.appendChild(list);
  return box;
}

async function explainRow(jobId, row) {
  const panel = $("explanation");
  panel.hidden = false;
  panel.replaceChildren(Object.assign(document.createElement("p"), { textContent: `Explaining row ${row}...` }));
  try {
    const answer = await getJson(jobPath(jobId, `/reviews/${row}/explanation`));
    const heading = document.createElement("h4");
    heading.textContent = `Row ${answer.row} (${answer.review_id}): ${answer.label}, score ${answer.score.toFixed(3)}`;
    const facts = document.createElement("dl");
    facts.className = "facts";
    fact(facts, "model now", answer.model_version);
    fact(facts, "stored", `${answer.stored_label}, score ${answer.stored_score.toFixed(3)}, ${answer.stored_model_version}`);
    const lists = document.createElement("div");
    lists.className = "ngrams";
    lists.append(
      ngramList("Pushed toward positive", answer.explanation.positive),
      ngramList("Pushed toward negative", answer.explanation.negative),
    );
    panel.dataset.row = answer.row;
    panel.replaceChildren(heading, facts, lists);
    for (const shown of $("results").tBodies[0].rows) {
      shown.classList.toggle("selected", shown.dataset.row === String(answer.row));
    }
    panel.scrollIntoView({ block: "nearest" });
  } catch (error) {
    panel.replaceChildren(Object.assign(document.createElement("p"), { textContent: error.message }));
  }
}

// The job's export (written once when it ended): the API answers a short-lived presigned URL for it.
async function exportJob(format) {
  const target = $("export");
  target.replaceChildren(`Asking for the ${format} export...`);
  target.dataset.state = "loading";
  try {
    const answer = await getJson(jobPath(state.job.job_id, "/export"), { format });
    const link = document.createElement("a");
    link.href = answer.url;
    link.id = "export-link";
    link.dataset.rows = answer.rows;
    link.textContent = `Download ${format === "csv" ? "results.csv" : "results.jsonl.gz"} (${answer.rows} rows)`;
    const minutes = Math.round(answer.expires_in / 60);
    target.replaceChildren(link, ` the link works for ${minutes} minute${minutes === 1 ? "" : "s"}`);
  } catch (error) {
    target.replaceChildren(error.message);
  }
  target.dataset.state = "ready";
}

// ------------------------------------------------------------------------------------------- model card
async function loadModelCard() {
  const target = $("model-card");
  const base = new URL("model/", window.location.href);
  try {
    const [card, text] = await Promise.all([getFile("model/model_card.json", "json"), getFile("model/model_card.md")]);
    const summary = document.createElement("dl");
    summary.className = "facts";
    fact(summary, "model version", card.model_version);
    fact(summary, "model type", card.model_type);
    const blocks = renderMarkdown(text, base);
    target.replaceChildren(summary, ...blocks);
    if (!blocks.some((block) => block.querySelector("img"))) {
      // The card references no figure: show the evaluation report's (reliability diagrams, score histogram).
      const evaluation = await getFile("model/evaluation.md").catch(() => "");
      const images = renderMarkdown(evaluation, base).flatMap((block) => [...block.querySelectorAll("img")]);
      if (images.length) {
        target.append(Object.assign(document.createElement("h3"), { textContent: "Evaluation figures" }));
        for (const image of images) {
          const figure = document.createElement("figure");
          figure.append(image, Object.assign(document.createElement("figcaption"), { textContent: image.alt }));
          target.append(figure);
        }
      }
    }
  } catch (error) {
    target.replaceChildren(Object.assign(document.createElement("p"), { textContent: `No model card: ${error.message}` }));
  }
  target.dataset.state = "ready";
}

// ------------------------------------------------------------------------------------------- start
function showTokenState() {
  $("token-state").textContent = storedToken() ? "token set (this tab only)" : "no token";
}

function start() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    storeToken($("token").value.trim());
    $("token").value = "";
    showTokenState();
    loadJobs();
  });
  $("token-clear").addEventListener("click", () => {
    storeToken("");
    showTokenState();
  });
  $("jobs-refresh").addEventListener("click", () => loadJobs());
  $("jobs-more").addEventListener("click", () => loadJobs({ more: true }));
  $("sentiment").addEventListener("change", restartResults);
  $("page-size").addEventListener("change", restartResults);
  $("page-prev").addEventListener("click", () => turnPage(-1));
  $("page-next").addEventListener("click", () => turnPage(1));
  for (const button of [$("export-csv"), $("export-jsonl")]) {
    button.addEventListener("click", () => exportJob(button.dataset.format));
  }
  showTokenState();
  loadModelCard();
  loadJobs().then(() => {
    const match = window.location.hash.match(/^#job=(.+)$/);
    if (match) selectJob(decodeURIComponent(match[1]));
  });
}

start();
