/** @odoo-module ignore */
/* global SpaKioskStore, spaKioskNewUuid */

/**
 * The treatment room's tablet: the day's sessions of the room, a PIN pad,
 * and the session runner full screen for the therapist who unlocked it.
 *
 * Nothing here decides: the server checks the room's token, the PIN, the
 * unlock (room + therapist + session, short-lived) and runs every operation
 * as the therapist. The tablet queues ticks, skips, records and check-ins in
 * IndexedDB with device-made UUIDs, so they survive a reload without network,
 * and sends them once when the network is back, showing each result.
 */
/** Where the tablet keeps its room's token (the installed app and a reload
 * without network open "/spa/kiosk" with no fragment). */
const SPA_KIOSK_TOKEN_KEY = "spa_session_protocol.kiosk_token";

/**
 * The room's token: from the URL's fragment ("/spa/kiosk#<token>", never
 * sent to a server) when a manager opened the room's kiosk link here, then
 * kept on the device; the fragment leaves the address bar (and the browser's
 * history) at once.
 */
function kioskToken() {
  "use strict";
  // "/spa/kiosk/<token>" (the address the design names) served the page:
  // the same token, kept on the device, and "/spa/kiosk" in the address bar.
  const inPath = window.location.pathname.match(/^\/spa\/kiosk\/([\w-]{20,100})\/?$/);
  const fragment = window.location.hash.slice(1) || (inPath && inPath[1]) || "";
  if (fragment) {
    window.history.replaceState(
      window.history.state,
      "",
      (inPath ? "/spa/kiosk" : window.location.pathname) + window.location.search
    );
    if (/^[\w-]{20,100}$/.test(fragment)) {
      window.localStorage.setItem(SPA_KIOSK_TOKEN_KEY, fragment);
    }
  }
  return window.localStorage.getItem(SPA_KIOSK_TOKEN_KEY);
}

function spaKioskMain() {
  "use strict";

  const root = document.querySelector(".o_spa_kiosk");
  if (!root) {
    return;
  }
  // "/spa/kiosk": the page, the scope of the service worker, and the
  // folder of the JSON routes (the token goes in their bodies).
  const path = root.dataset.path;
  const labels = {};
  for (const el of document.querySelectorAll("[data-spa-label]")) {
    labels[el.dataset.spaLabel] = el.textContent.trim();
  }
  const body = root.querySelector(".o_spa_kiosk_body");
  const roomEl = root.querySelector(".o_spa_kiosk_room");
  const netBadge = root.querySelector(".o_spa_kiosk_net");
  const lockButton = root.querySelector(".o_spa_kiosk_lock");
  const outboxEl = root.querySelector(".o_spa_kiosk_outbox");
  const token = kioskToken();
  if (!token) {
    body.replaceChildren(
      Object.assign(document.createElement("p"), {
        className: "o_spa_kiosk_no_token alert alert-warning",
        textContent: labels.no_token,
      })
    );
    root.classList.add("o_spa_kiosk_ready");
    return;
  }
  const store = new SpaKioskStore(`spa_kiosk_${token.slice(0, 12)}`);

  const state = {
    plan: null,
    unlock: null,
    userName: null,
    session: null,
    results: [],
    refused: false,
    lastTouch: Date.now(),
    syncing: false,
    syncAgain: false,
    seq: Date.now(),
  };

  class OfflineError extends Error {}

  function label(key) {
    return labels[key] || key;
  }

  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "onclick") {
        el.addEventListener("click", value);
      } else if (key === "class") {
        el.className = value;
      } else if (value !== false && value !== null && value !== undefined) {
        el.setAttribute(key, value === true ? "" : value);
      }
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        el.append(child instanceof Node ? child : String(child));
      }
    }
    return el;
  }

  async function rpc(route, params = {}) {
    let response;
    try {
      // The token travels in the body, never in the address.
      response = await fetch(`${path}/${route}`, {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        credentials: "omit",
        referrerPolicy: "no-referrer",
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "call",
          params: {...params, token},
        }),
      });
    } catch {
      throw new OfflineError();
    }
    if (!response.ok) {
      throw new OfflineError();
    }
    const data = await response.json();
    if (data.error) {
      return {ok: false, error: data.error.data?.message || data.error.message};
    }
    return data.result;
  }

  function setOnline(online) {
    netBadge.textContent = online ? label("online") : label("offline");
    netBadge.classList.toggle("o_spa_kiosk_offline", !online);
  }

  function time(value) {
    if (!value) {
      return "";
    }
    const date = new Date(value.replace(" ", "T") + "Z");
    return date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }

  // ------------------------------------------------------------------
  // Locked: the room's plan and the PIN pad
  // ------------------------------------------------------------------

  async function loadPlan() {
    try {
      const plan = await rpc("plan");
      setOnline(true);
      if (!plan.ok) {
        if (plan.refused) {
          await refuseAddress(plan.error);
          return;
        }
      } else {
        state.plan = plan;
        await store.set("plan", plan);
      }
    } catch (error) {
      if (!(error instanceof OfflineError)) {
        throw error;
      }
      setOnline(false);
      state.plan = state.plan || (await store.get("plan")) || null;
    }
    roomEl.textContent = (state.plan && state.plan.room.name) || "";
  }

  async function refuseAddress(message) {
    // A new kiosk link was made: forget everything this one kept.
    if (window.localStorage.getItem(SPA_KIOSK_TOKEN_KEY) === token) {
      window.localStorage.removeItem(SPA_KIOSK_TOKEN_KEY);
    }
    await store.clear();
    state.plan = state.session = state.unlock = null;
    state.refused = true;
    roomEl.textContent = "";
    body.replaceChildren(
      h("p", {class: "o_spa_kiosk_refused alert alert-danger"}, message)
    );
  }

  function renderPlan() {
    lockButton.classList.add("d-none");
    if (state.refused) {
      // The refusal stays on screen until a manager opens a new link.
      return;
    }
    const plan = state.plan;
    if (!plan) {
      body.replaceChildren(h("p", {class: "o_spa_kiosk_empty"}, label("no_plan")));
      return;
    }
    const sessions = plan.sessions.map((session) =>
      h(
        "button",
        {
          type: "button",
          class: "o_spa_kiosk_session",
          "data-session-id": session.id,
          onclick: () => renderPinPad(session),
        },
        h("span", {class: "o_spa_kiosk_time"}, time(session.date_planned)),
        h("span", {class: "o_spa_kiosk_client"}, session.partner_name),
        h("span", {class: "o_spa_kiosk_therapist"}, session.therapist_name),
        h(
          "span",
          {class: "o_spa_kiosk_state"},
          `${session.state_label} · ${session.step_done_count}/${session.step_total_count}`
        )
      )
    );
    body.replaceChildren(
      h("h1", {class: "o_spa_kiosk_title"}, label("today")),
      sessions.length
        ? h("div", {class: "o_spa_kiosk_sessions"}, sessions)
        : h("p", {}, label("no_session"))
    );
  }

  function renderPinPad(session, message = "") {
    let pin = "";
    const display = h(
      "div",
      {class: "o_spa_kiosk_pin_display", "aria-live": "polite"},
      ""
    );
    const error = h(
      "p",
      {class: "o_spa_kiosk_pin_error text-danger", role: "alert"},
      message
    );
    const refresh = () => {
      display.textContent = "•".repeat(pin.length);
    };
    const key = (digit) =>
      h(
        "button",
        {
          type: "button",
          class: "o_spa_kiosk_key",
          "data-key": digit,
          onclick: () => {
            if (pin.length < 8) {
              pin += digit;
              refresh();
            }
          },
        },
        digit
      );
    const submit = async () => {
      if (!pin) {
        return;
      }
      let answer;
      try {
        answer = await rpc("unlock", {session_id: session.id, pin});
        setOnline(true);
      } catch {
        setOnline(false);
        error.textContent = label("unlock_offline");
        return;
      }
      pin = "";
      refresh();
      if (!answer.ok) {
        error.textContent = answer.error;
        return;
      }
      state.unlock = answer.unlock;
      state.userName = answer.user_name;
      await openSession();
    };
    body.replaceChildren(
      h("h1", {class: "o_spa_kiosk_title"}, session.therapist_name),
      h("p", {}, `${time(session.date_planned)} · ${session.partner_name}`),
      h("p", {class: "o_spa_kiosk_pin_help"}, label("enter_pin")),
      display,
      error,
      h(
        "div",
        {class: "o_spa_kiosk_keypad"},
        ["1", "2", "3", "4", "5", "6", "7", "8", "9"].map(key),
        h(
          "button",
          {
            type: "button",
            class: "o_spa_kiosk_key o_spa_kiosk_key_clear",
            onclick: () => {
              pin = "";
              refresh();
            },
          },
          label("clear")
        ),
        key("0"),
        h(
          "button",
          {
            type: "button",
            class: "o_spa_kiosk_key o_spa_kiosk_key_ok btn-primary",
            onclick: submit,
          },
          label("unlock")
        )
      ),
      h(
        "button",
        {type: "button", class: "o_spa_kiosk_back", onclick: () => renderPlan()},
        label("back")
      )
    );
  }

  // ------------------------------------------------------------------
  // Unlocked: the session runner
  // ------------------------------------------------------------------

  async function remember() {
    // Kept only while unlocked, so that a reload without network resumes.
    await store.set("current", {
      unlock: state.unlock,
      userName: state.userName,
      session: state.session,
      lastTouch: state.lastTouch,
    });
  }

  async function openSession() {
    state.lastTouch = Date.now();
    try {
      const answer = await rpc("session", {unlock: state.unlock});
      setOnline(true);
      if (!answer.ok) {
        await lock(answer.error);
        return;
      }
      state.unlock = answer.unlock;
      state.session = answer.session;
    } catch (error) {
      if (!(error instanceof OfflineError)) {
        throw error;
      }
      setOnline(false);
    }
    await remember();
    await sync();
    renderSession();
  }

  async function queue(op) {
    const item = {
      uuid: spaKioskNewUuid(),
      seq: state.seq++,
      device_at: new Date().toISOString(),
      session_id: state.session.id,
      ...op,
    };
    await store.add(item);
    // Shown at once; the server's answer replaces it.
    if (op.kind === "tick" || op.kind === "skip") {
      const step = state.session.steps.find((s) => s.id === op.step_id);
      if (step) {
        step.state = op.kind === "tick" ? "done" : "skipped";
        step.pending = true;
      }
    } else if (op.kind === "checkin") {
      state.session.checkins.push({
        uuid: item.uuid,
        step_id: op.step_id || false,
        pain_level: op.pain_level,
        stop_requested: op.stop_requested,
        pending: true,
      });
    }
    await remember();
    await showPending();
    renderSession();
    await sync();
  }

  /**
   * Send the outbox. Asked again while a send is under way, it sends once
   * more right after it: what was queued meanwhile does not wait for the
   * next interval.
   */
  async function sync() {
    if (state.syncing) {
      state.syncAgain = true;
      return;
    }
    state.syncing = true;
    try {
      do {
        state.syncAgain = false;
        await sendOutbox();
      } while (state.syncAgain);
    } finally {
      state.syncing = false;
    }
  }

  async function sendOutbox() {
    if (!state.unlock || !state.session) {
      return;
    }
    const items = (await store.outbox()).filter(
      (item) => item.session_id === state.session.id
    );
    if (!items.length) {
      return;
    }
    try {
      const ops = items.map(({seq, ...op}) => op);
      const answer = await rpc("sync", {unlock: state.unlock, ops});
      setOnline(true);
      if (!answer.ok) {
        if (answer.locked) {
          await lock(answer.error, {keepOutbox: true});
        }
        return;
      }
      state.unlock = answer.unlock;
      for (const result of answer.results) {
        if (result.status === "retry") {
          continue;
        }
        const item = items.find((i) => i.uuid === result.uuid);
        state.results.unshift({
          uuid: result.uuid,
          kind: item ? item.kind : "",
          ok: result.ok,
          error: result.error || "",
        });
        await store.done(result.uuid);
      }
      state.session = answer.session;
      await remember();
    } catch (error) {
      if (!(error instanceof OfflineError)) {
        throw error;
      }
      setOnline(false);
    }
    renderResults();
    renderSession();
  }

  async function act(action) {
    let reason = null;
    if (action === "stop") {
      const session = state.session;
      if (session.checkins.some((checkin) => checkin.stop_requested)) {
        reason = "client_request";
      } else {
        reason = session.is_stop_triggered ? "pain" : "other";
      }
    }
    try {
      const answer = await rpc("action", {unlock: state.unlock, action, reason});
      setOnline(true);
      if (answer.locked) {
        await lock(answer.error, {keepOutbox: true});
        return;
      }
      state.unlock = answer.unlock || state.unlock;
      state.session = answer.session || state.session;
      state.results.unshift({kind: action, ok: answer.ok, error: answer.error || ""});
      await remember();
    } catch {
      setOnline(false);
      state.results.unshift({kind: action, ok: false, error: label("action_offline")});
    }
    renderResults();
    renderSession();
  }

  function renderSession() {
    const session = state.session;
    if (!session || !state.unlock) {
      return;
    }
    lockButton.classList.remove("d-none");
    const running = session.state === "in_progress";
    const steps = session.steps.map((step) =>
      h(
        "li",
        {
          class: `o_spa_kiosk_step o_spa_kiosk_step_${step.state}`,
          "data-step-id": step.id,
        },
        h("span", {class: "o_spa_kiosk_step_name"}, step.name),
        step.state === "todo" && running
          ? h(
              "span",
              {class: "o_spa_kiosk_step_buttons"},
              h(
                "button",
                {
                  type: "button",
                  class: "o_spa_kiosk_tick btn-primary",
                  onclick: () => queue({kind: "tick", step_id: step.id}),
                },
                label("done")
              ),
              step.is_mandatory
                ? null
                : h(
                    "button",
                    {
                      type: "button",
                      class: "o_spa_kiosk_skip",
                      onclick: () =>
                        queue({
                          kind: "skip",
                          step_id: step.id,
                          reason: label("skipped"),
                        }),
                    },
                    label("skip")
                  )
            )
          : h(
              "span",
              {class: "o_spa_kiosk_step_state"},
              step.pending ? label("queued") : step.done_by_name || ""
            ),
        step.record_kind === "positioning" && running && !session.positioning
          ? h(
              "span",
              {class: "o_spa_kiosk_positioning"},
              session.positioning_options.map((option) =>
                h(
                  "button",
                  {
                    type: "button",
                    "data-positioning": option.value,
                    onclick: () => {
                      session.positioning = option.value;
                      queue({kind: "record", values: {positioning: option.value}});
                    },
                  },
                  option.label
                )
              )
            )
          : null
      )
    );
    const lastDone = [...session.steps].reverse().find((s) => s.state === "done");
    const painButtons = [...Array(11).keys()].map((level) =>
      h(
        "button",
        {
          type: "button",
          class: "o_spa_kiosk_pain",
          "data-pain": level,
          onclick: () => {
            if (
              level >= session.pain_stop_threshold &&
              !window.confirm(label("confirm_stop"))
            ) {
              return;
            }
            queue({
              kind: "checkin",
              step_id: lastDone ? lastDone.id : false,
              pain_level: level,
              stop_requested: false,
            });
          },
        },
        level
      )
    );
    const actions = [];
    if (session.state === "draft") {
      actions.push(["start", label("start")]);
    }
    if (running) {
      actions.push(["done", label("complete")], ["stop", label("stop")]);
    }
    body.replaceChildren(
      h(
        "div",
        {class: "o_spa_kiosk_session_head"},
        h(
          "h1",
          {class: "o_spa_kiosk_title"},
          `${session.name} · ${session.partner_name}`
        ),
        h("p", {}, `${state.userName} · ${session.state_label}`),
        h(
          "p",
          {class: "o_spa_kiosk_checkin_count"},
          `${label("checkins")}: ${session.checkins.length}`
        )
      ),
      h("ol", {class: "o_spa_kiosk_steps"}, steps),
      running
        ? h(
            "div",
            {class: "o_spa_kiosk_checkin"},
            h("p", {}, label("pain")),
            h("div", {class: "o_spa_kiosk_pains"}, painButtons)
          )
        : null,
      session.completion_blockers && running
        ? h(
            "p",
            {class: "o_spa_kiosk_blockers text-muted"},
            session.completion_blockers
          )
        : null,
      h(
        "div",
        {class: "o_spa_kiosk_actions"},
        actions.map(([action, text]) =>
          h(
            "button",
            {
              type: "button",
              class: `o_spa_kiosk_action o_spa_kiosk_action_${action}`,
              onclick: () => act(action),
            },
            text
          )
        )
      )
    );
  }

  async function showPending() {
    const count = (await store.outbox()).length;
    root.classList.toggle("o_spa_kiosk_has_pending", count > 0);
    root.dataset.pending = count;
  }

  function renderResults() {
    showPending();
    outboxEl.replaceChildren(
      ...state.results.slice(0, 6).map((result) =>
        h(
          "p",
          {
            class: `o_spa_kiosk_result o_spa_kiosk_result_${result.ok ? "done" : "refused"}`,
          },
          result.ok
            ? label("result_done")
            : `${label("result_refused")}: ${result.error}`
        )
      )
    );
  }

  async function lock(message = "", {keepOutbox = false} = {}) {
    const unlock = state.unlock;
    state.unlock = state.session = state.userName = null;
    await store.remove("current");
    if (unlock) {
      rpc("lock", {unlock}).catch(() => {});
    }
    if (!keepOutbox && !(await store.outbox()).length) {
      state.results = [];
      renderResults();
    }
    await loadPlan();
    renderPlan();
    if (message) {
      body.prepend(h("p", {class: "o_spa_kiosk_message alert alert-info"}, message));
    }
  }

  // ------------------------------------------------------------------
  // Start: service worker, idle lock, network
  // ------------------------------------------------------------------

  async function start() {
    await loadPlan();
    const current = await store.get("current");
    const idleMs = ((state.plan && state.plan.idle_seconds) || 180) * 1000;
    if (current && Date.now() - current.lastTouch < idleMs) {
      state.unlock = current.unlock;
      state.userName = current.userName;
      state.session = current.session;
      state.lastTouch = current.lastTouch;
      if (navigator.onLine) {
        await openSession();
      } else {
        renderSession();
      }
    } else {
      if (current) {
        await store.remove("current");
      }
      renderPlan();
    }
    root.classList.add("o_spa_kiosk_ready");
    await installOffline();
  }

  /**
   * The service worker keeps the page and its assets for a reload without
   * network; what loaded before it controlled the page is handed to it.
   */
  async function installOffline() {
    if (!("serviceWorker" in navigator)) {
      return;
    }
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "spa-kiosk-cached") {
        root.dataset.cached = "1";
      }
    });
    try {
      await navigator.serviceWorker.register(`${path}/sw.js`, {scope: path});
      const registration = await navigator.serviceWorker.ready;
      // The kiosk's JSON routes are POSTs of the moment, never kept.
      const routes = ["plan", "unlock", "lock", "session", "sync", "action"].map(
        (route) => `${path}/${route}`
      );
      const urls = [
        `${location.origin}${location.pathname}`,
        ...performance
          .getEntriesByType("resource")
          .map((entry) => entry.name)
          .filter(
            (url) =>
              url.startsWith(location.origin) && !routes.includes(new URL(url).pathname)
          ),
      ];
      registration.active.postMessage({
        type: "spa-kiosk-cache",
        urls: [...new Set(urls)],
      });
    } catch {
      // Without a service worker the kiosk still works online.
    }
  }

  for (const event of ["pointerdown", "keydown", "touchstart"]) {
    document.addEventListener(event, () => {
      state.lastTouch = Date.now();
    });
  }
  setInterval(() => {
    const idleMs = ((state.plan && state.plan.idle_seconds) || 180) * 1000;
    if (state.unlock && Date.now() - state.lastTouch > idleMs) {
      lock(label("idle_locked"), {keepOutbox: true});
    }
  }, 5000);
  lockButton.addEventListener("click", () => lock());
  window.addEventListener("online", () => {
    setOnline(true);
    sync();
  });
  window.addEventListener("offline", () => setOnline(false));
  // A manager opens another room's link on this tablet: start again on it.
  window.addEventListener("hashchange", () => {
    if (window.location.hash.length > 1) {
      kioskToken();
      window.location.reload();
    }
  });
  setInterval(() => sync(), 15000);
  start();
}

// The bundle loads in the page's head: start once the page is parsed.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", spaKioskMain);
} else {
  spaKioskMain();
}
