// pserv's web UI: progressive enhancement only. Every page works without
// this script (reload it to see what changed); with it, choosing a power
// type reloads the node form for it, a checkbox selects every node on the
// page, the destructive buttons ask for confirmation first, a form is not
// sent twice, and the live pages (<main data-live>) follow the region's
// event stream and refresh what changed in place.
"use strict";

// At most one refresh of a page's parts this often, however many events come.
const THROTTLE_MS = 250;
// Events this close together are one refresh.
const GATHER_MS = 50;
// The batch page also looks this often while its batch runs: an action's
// handing over and start are not events.
const BATCH_POLL_MS = 5000;

document.addEventListener("DOMContentLoaded", () => {
  autosubmit();
  selectAll();
  confirmations();
  const main = document.querySelector("main[data-live]");
  if (main) live(main);
});

// A select marked data-autosubmit submits its (GET) form when changed,
// and the form's own button is not needed.
function autosubmit() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    const form = select.form;
    for (const button of form.querySelectorAll("[data-autosubmit-button]")) {
      button.hidden = true;
    }
    select.addEventListener("change", () => form.requestSubmit());
  }
}

// The header checkbox of the nodes table selects every row's checkbox, and
// shows whether all, some or none are (also after rows are refreshed).
function selectAll() {
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    const table = all.closest("table");
    const boxes = () => [...table.querySelectorAll("tbody input[type=checkbox][name=node]:not(:disabled)")];
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
    });
    table.addEventListener("change", (event) => {
      if (event.target === all) return;
      const every = boxes();
      all.checked = every.length > 0 && every.every((box) => box.checked);
      all.indeterminate = !all.checked && every.some((box) => box.checked);
    });
  }
}

// A button with data-confirm asks before its form is sent; a form marked
// data-once is sent once (a second click while the first is on its way
// does nothing).  One listener on the document, so that the forms a live
// page swaps in later (a refreshed action's cancel button) ask too.
function confirmations() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-once")) {
      if (form.dataset.sent) event.preventDefault();
      form.dataset.sent = "yes";
    }
  });
  // Back to a page kept by the browser: its forms may be sent again.
  window.addEventListener("pageshow", () => {
    for (const form of document.querySelectorAll("form[data-sent]")) delete form.dataset.sent;
  });
}

// -- Live pages ----------------------------------------------------------

// The small indicator in the top bar: live, reconnecting or off.
function indicate(state, text) {
  const shown = document.getElementById("live");
  if (!shown) return;
  shown.hidden = false;
  shown.dataset.state = state;
  shown.textContent = text;
  shown.title = {
    live: "This page follows the region's events and updates itself.",
    reconnecting: "The event stream broke off; the browser is reconnecting, and will miss nothing.",
    off: "This page no longer updates itself: reload it to see what changed.",
  }[state];
}

// Raised when a part cannot be fetched because the session ended.
class SignedOut extends Error {}

// Calls flush(keys) with the keys marked since the last call: at most every
// THROTTLE_MS, never two at once, and only once for a burst of marks.
class Refresher {
  constructor(flush) {
    this.flush = flush;
    this.dirty = new Set();
    this.timer = null;
    this.running = false;
    this.last = -Infinity;
    this.stopped = false;
  }

  mark(key) {
    if (this.stopped) return;
    this.dirty.add(key);
    this.schedule();
  }

  schedule(extra = 0) {
    if (this.stopped || this.timer !== null || this.running || this.dirty.size === 0) return;
    const wait = Math.max(GATHER_MS, this.last + THROTTLE_MS - performance.now()) + extra;
    this.timer = setTimeout(() => this.run(), wait);
  }

  async run() {
    this.timer = null;
    const keys = [...this.dirty];
    this.dirty.clear();
    this.running = true;
    this.last = performance.now();
    let extra = 0;
    try {
      await this.flush(keys);
    } catch (error) {
      if (error instanceof SignedOut) {
        this.stopped = true;
        document.dispatchEvent(new CustomEvent("pserv:signed-out"));
        return;
      }
      // Try again a little later (the region may be restarting).
      for (const key of keys) this.dirty.add(key);
      extra = 2000;
    } finally {
      this.running = false;
    }
    this.schedule(extra);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
  }
}

// GET a page's part: its HTML as a fragment, or null if it is gone (404).
async function fetchPart(url) {
  const response = await fetch(url, {
    credentials: "same-origin", redirect: "manual", headers: { Accept: "text/html" },
  });
  if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
    throw new SignedOut(url);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  return template.content;
}

// GET JSON from the API, with the session's cookie.
async function fetchJSON(url) {
  const response = await fetch(url, {
    credentials: "same-origin", redirect: "manual", headers: { Accept: "application/json" },
  });
  if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
    throw new SignedOut(url);
  }
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

// Put the element of the fragment with this id in place of the page's,
// keeping the focus where it was if its element is still there.
function swapById(fragment, id) {
  const fresh = fragment.getElementById ? fragment.getElementById(id) : fragment.querySelector(`#${id}`);
  const old = document.getElementById(id);
  if (!fresh || !old) return;
  const refocus = focusKey(old);
  old.replaceWith(fresh);
  restoreFocus(fresh, refocus);
}

// How to find the focused element again in a refreshed copy of `within`.
function focusKey(within) {
  const active = document.activeElement;
  if (!active || active === document.body || !within.contains(active)) return null;
  if (active.id) return `#${CSS.escape(active.id)}`;
  const row = active.closest("[data-action]");
  if (row && active.matches("button")) return `[data-action="${CSS.escape(row.dataset.action)}"] button`;
  return null;
}

function restoreFocus(within, selector) {
  if (!selector) return;
  const again = within.matches(selector) ? within : within.querySelector(selector);
  if (again) again.focus();
}

// Follow the event stream the page names (data-stream, which starts after
// data-last-event), calling onEvent with each event's JSON.  The browser
// reconnects a broken stream itself, sending Last-Event-ID; if it gives up
// (the region answered with an error), it is opened again later, after the
// last event seen.
function follow(main, onEvent) {
  let lastId = main.dataset.lastEvent || "0";
  let source = null;
  let delay = 2000;
  let stopped = false;
  const open = () => {
    if (stopped) return;
    const url = new URL(main.dataset.stream, window.location.href);
    url.searchParams.set("after", lastId);
    source = new EventSource(url);
    source.addEventListener("open", () => {
      delay = 2000;
      indicate("live", "live");
    });
    source.addEventListener("event", (message) => {
      if (message.lastEventId) lastId = message.lastEventId;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      onEvent(event);
    });
    source.addEventListener("error", async () => {
      if (stopped) return;
      indicate("reconnecting", "reconnecting…");
      if (source.readyState !== EventSource.CLOSED) return;
      // The region refused the stream: if the session has ended, stop.
      if (await signedOut()) {
        stream.stop("off", "signed out: reload");
        return;
      }
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 60000);
    });
  };
  indicate("reconnecting", "connecting…");
  open();
  const stream = {
    stop(state = "off", text = "live updates off") {
      stopped = true;
      if (source) source.close();
      indicate(state, text);
    },
  };
  document.addEventListener("pserv:signed-out", () => stream.stop("off", "signed out: reload"));
  // A page the browser kept while away is shown afresh when come back to.
  window.addEventListener("pagehide", () => { if (source) source.close(); });
  window.addEventListener("pageshow", (event) => { if (event.persisted) window.location.reload(); });
  return stream;
}

// Whether the session has ended (the region no longer knows who this is).
async function signedOut() {
  try {
    const response = await fetch("/api/v1/whoami", {
      credentials: "same-origin", redirect: "manual", headers: { Accept: "application/json" },
    });
    return response.status === 401 || response.status === 403;
  } catch {
    return false;
  }
}

function live(main) {
  const kind = main.dataset.live;
  if (kind === "nodes") liveNodes(main);
  else if (kind === "node") liveNode(main);
  else if (kind === "batch") liveBatch(main);
}

// The nodes page: a node an event names is marked dirty; its row, if this
// page shows it, is fetched again (with every other dirty row, in one GET
// /nodes/rows?ids=...) and swapped in place, its checkbox kept.
function liveNodes(main) {
  const table = document.getElementById("nodes");
  const rowOf = (id) => (table ? table.querySelector(`tbody tr[data-node="${CSS.escape(String(id))}"]`) : null);
  const refresher = new Refresher(async (ids) => {
    const shown = ids.filter((id) => rowOf(id));
    if (shown.length === 0) return;
    const part = await fetchPart(`${main.dataset.refresh}?ids=${shown.join(",")}`);
    if (part === null) return;
    const fresh = new Map([...part.querySelectorAll("tr[data-node]")].map((row) => [row.dataset.node, row]));
    for (const id of shown) {
      const old = rowOf(id);
      const row = fresh.get(String(id));
      if (old && row) swapRow(old, row);
      else if (old) markGone(old);
    }
    table.dispatchEvent(new Event("change", { bubbles: true }));
  });
  const changed = document.getElementById("list-changed");
  const stream = follow(main, (event) => {
    if (event.node === null || event.node === undefined) return;
    if (rowOf(event.node)) refresher.mark(event.node);
    else if (changed && (event.kind === "node_created" || event.kind === "node_deleted")) changed.hidden = false;
  });
  window.addEventListener("pagehide", () => refresher.stop());
  return stream;
}

function swapRow(old, row) {
  const box = old.querySelector("input[type=checkbox][name=node]");
  const again = row.querySelector("input[type=checkbox][name=node]");
  if (box && again) again.checked = box.checked;
  const refocus = focusKey(old);
  old.replaceWith(row);
  restoreFocus(row, refocus);
  flash(row);
}

function markGone(row) {
  row.dataset.gone = "";
  const box = row.querySelector("input[type=checkbox][name=node]");
  if (box) {
    box.checked = false;
    box.disabled = true;
  }
  const name = row.querySelector("[data-field=name]");
  if (name && !name.querySelector(".gone")) {
    const tag = document.createElement("span");
    tag.className = "tag gone";
    tag.textContent = "deleted";
    name.append(" ", tag);
  }
}

// Mark a refreshed part for a moment (CSS; none if motion is reduced).
function flash(element) {
  element.classList.add("updated");
  element.addEventListener("animationend", () => element.classList.remove("updated"), { once: true });
}

// A node's page: its events refresh the power facts, the actions and the
// events (GET /nodes/<id>/panels, the same pages of them); the power form,
// and what is typed in it, stay as they are.
function liveNode(main) {
  const id = main.dataset.nodeId;
  let stream = null;
  const refresher = new Refresher(async () => {
    const part = await fetchPart(main.dataset.refresh);
    if (part === null) {
      const gone = document.getElementById("node-gone");
      if (gone) gone.hidden = false;
      refresher.stop();
      stream.stop("off", "node deleted");
      return;
    }
    for (const key of ["facts", "actions", "events"]) swapById(part, key);
    const facts = document.getElementById("facts");
    if (facts) flash(facts);
  });
  stream = follow(main, (event) => {
    if (String(event.node) === id) refresher.mark(id);
  });
  window.addEventListener("pagehide", () => refresher.stop());
}

// A batch's page: an event about an action refreshes the counts (GET
// /api/v1/batches/<id>) and the list of actions (GET
// /batches/<id>/actions); once every action has ended, nothing more can
// change, and the stream is closed.
function liveBatch(main) {
  const progress = document.getElementById("progress");
  if (!progress) return;
  if (progress.dataset.finished === "true") {
    indicate("off", "finished");
    return;
  }
  let stream = null;
  let poll = null;
  const refresher = new Refresher(async () => {
    const batch = await fetchJSON(`/api/v1/batches/${encodeURIComponent(progress.dataset.batch)}`);
    showCounts(progress, batch);
    const part = await fetchPart(main.dataset.refresh);
    if (part !== null) swapById(part, "actions");
    if (batch.finished) {
      refresher.stop();
      clearInterval(poll);
      stream.stop("off", "finished");
    }
  });
  stream = follow(main, (event) => {
    if (event.action !== null && event.action !== undefined) refresher.mark("batch");
  });
  poll = setInterval(() => refresher.mark("batch"), BATCH_POLL_MS);
  window.addEventListener("pagehide", () => {
    refresher.stop();
    clearInterval(poll);
  });
}

function showCounts(progress, batch) {
  let ended = 0;
  let counted = 0;
  for (const [key, count] of Object.entries(batch.counts)) {
    counted += count;
    const output = progress.querySelector(`output[data-count="${CSS.escape(key)}"]`);
    if (!output) continue;
    if (output.textContent !== String(count)) {
      output.textContent = String(count);
      flash(output.closest("li") || output);
    }
    if (output.closest("[data-ended]")) ended += count;
  }
  progress.dataset.finished = batch.finished ? "true" : "false";
  const bar = document.getElementById("batch-progress");
  if (bar) bar.value = ended;
  const state = document.getElementById("batch-state");
  if (state) {
    const gone = batch.size - counted;
    state.textContent = (batch.finished
      ? `Every action has ended: ${ended} of ${batch.size}`
      : `${ended} of ${batch.size} ended so far`)
      + (gone > 0 ? ` (${gone} left with their deleted nodes)` : "") + ".";
  }
}
