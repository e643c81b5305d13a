import {defineMailModels} from "@mail/../tests/mail_test_helpers";
import {beforeEach, describe, expect, getFixture, test} from "@odoo/hoot";
import {queryAllTexts, queryOne} from "@odoo/hoot-dom";
import {animationFrame} from "@odoo/hoot-mock";
import {
  contains,
  getService,
  mountWithCleanup,
  onRpc,
  patchWithCleanup,
  serverState,
} from "@web/../tests/web_test_helpers";
import {browser} from "@web/core/browser/browser";
import {ConnectionLostError} from "@web/core/network/rpc";
import {WebClient} from "@web/webclient/webclient";
import {DrawnSignaturePad} from "@spa_session_protocol/drawn_signature/drawn_signature";
import {ConsentPad} from "@spa_session_protocol/session_runner/consent_pad";
import {OfflineQueue} from "@spa_session_protocol/session_runner/offline_queue";
import {SessionChecklist} from "@spa_session_protocol/session_runner/session_checklist";
import {SessionList} from "@spa_session_protocol/session_runner/session_list";
import {SessionRunner} from "@spa_session_protocol/session_runner/session_runner";
import {tabletApi} from "@spa_session_protocol/session_runner/tablet_api";

defineMailModels();

/** The keys of `shape` taken from `object`, to compare with toEqual. */
function pick(object, shape) {
  return Object.fromEntries(Object.keys(shape).map((key) => [key, object[key]]));
}
describe.current.tags("desktop");

const STEP = (id, name, vals = {}) => ({
  id,
  sequence: id,
  name,
  instructions: `How to do ${name}`,
  is_mandatory: true,
  requires_checkin: false,
  record_kind: "none",
  qualification_name: "",
  state: "todo",
  done_by_name: "",
  done_at: false,
  skip_reason: "",
  checkin_count: 0,
  ...vals,
});

/** A fake server holding one session; the rules' answers are set by each test. */
function makeServer() {
  const server = {
    online: true,
    syncCalls: [],
    actionCalls: [],
    refuse: {},
    session: {
      id: 1,
      name: "SES/001",
      state: "in_progress",
      state_label: "In Progress",
      partner_name: "Clara Client",
      protocol_name: "Upper-back release",
      event_id: 5,
      date_planned: "2026-01-01 09:00:00",
      consent_status: "valid",
      consent_status_label: "Consent valid",
      consent_name: "CON/001",
      pain_stop_threshold: 7,
      stop_pain_levels: [7, 8, 9, 10],
      min_checkin_count: 1,
      positioning: false,
      positioning_options: [
        {value: "prone_table", label: "Prone on a massage table"},
        {value: "seated", label: "Seated upright on a chair"},
      ],
      adjust_angle: false,
      adjust_direction: false,
      adjust_lighter_pressure: false,
      adjustment_note: "",
      completion_blockers: "1 mandatory step(s) not done: 'Pressing motions'",
      completion_blocker_lines: ["1 mandatory step(s) not done: 'Pressing motions'"],
      progress: {steps_done: 0, steps_total: 1, checkins_done: 0, checkins_required: 1},
      stop_reason_options: [
        {value: "client_late", label: "Client late or absent"},
        {value: "other", label: "Other"},
      ],
      can_complete: false,
      is_stop_triggered: false,
      referral_recommended: false,
      stop_reason: false,
      steps: [
        STEP(11, "Pressing motions", {requires_checkin: true}),
        STEP(12, "Advanced techniques", {is_mandatory: false}),
      ],
      checkins: [],
    },
  };
  patchWithCleanup(tabletApi, {
    async call(route, params) {
      if (!server.online) {
        throw new ConnectionLostError(route);
      }
      return super.call(route, params);
    },
  });
  onRpc("/spa/tablet/sessions_today", () => ({
    sessions: [
      {
        id: 1,
        name: "SES/001",
        partner_name: "Clara Client",
        protocol_name: "Upper-back release",
        date_planned: "2026-01-01 09:00:00",
        state: "draft",
        state_label: "Planned",
        consent_status: "missing",
        consent_status_label: "No consent",
        step_done_count: 0,
        step_total_count: 2,
      },
    ],
  }));
  onRpc("/spa/tablet/session/1", () => ({ok: true, session: server.session}));
  onRpc("/spa/tablet/session/1/action", async (request) => {
    const {params} = await request.json();
    server.actionCalls.push(params);
    if (params.action === "done" && !server.session.can_complete) {
      return {ok: false, error: "The session cannot be completed: rules"};
    }
    server.session.state = {done: "done", stop: "stopped", start: "in_progress"}[
      params.action
    ];
    server.session.referral_recommended = params.action === "stop";
    return {ok: true, session: server.session};
  });
  onRpc("/spa/tablet/sync", async (request) => {
    const {params} = await request.json();
    server.syncCalls.push(params.ops);
    const results = params.ops.map((op) => {
      if (server.refuse[op.kind]) {
        return {uuid: op.uuid, ok: false, error: server.refuse[op.kind]};
      }
      const step = server.session.steps.find((s) => s.id === op.step_id);
      if (op.kind === "tick") {
        step.state = "done";
      } else if (op.kind === "record") {
        Object.assign(server.session, op.values);
      } else if (op.kind === "regions") {
        step.touched_regions = step.touched_regions.filter((r) =>
          op.region_ids.includes(r.id)
        );
      } else if (op.kind === "checkin") {
        server.session.checkins.push({...op, id: 99});
        if (step) {
          step.checkin_count += 1;
        }
        if (
          server.session.stop_pain_levels.includes(op.pain_level) ||
          op.stop_requested
        ) {
          server.session.is_stop_triggered = true;
        }
      }
      return {uuid: op.uuid, ok: true};
    });
    return {results};
  });
  return server;
}

async function openRunner(context = {spa_session_id: 1}) {
  await mountWithCleanup(WebClient);
  await getService("action").doAction({
    type: "ir.actions.client",
    tag: "spa_session_protocol.session_runner",
    context,
  });
  await animationFrame();
}

beforeEach(() => {
  browser.localStorage.clear();
});

test("today's sessions show the client's consent state and open a session", async () => {
  makeServer();
  await openRunner({});
  expect(".o_spa_session_item").toHaveCount(1);
  expect(".o_spa_session_item .o_spa_consent_badge").toHaveText("No consent");
  expect(".o_spa_session_item .o_spa_consent_badge").toHaveClass("text-bg-danger");
  await contains(".o_spa_session_item").click();
  expect(".o_spa_step").toHaveCount(2);
  expect(".o_spa_step_current .o_spa_step_instructions").toHaveText(
    "How to do Pressing motions"
  );
});

test("one tap ticks a step with an idempotency key, then prompts the check-in", async () => {
  const server = makeServer();
  await openRunner();
  expect(".o_spa_blockers_text").toHaveText(
    "1 mandatory step(s) not done: 'Pressing motions'"
  );
  expect(".o_spa_complete_button").not.toBeEnabled();
  await contains(".o_spa_step[data-step-id='11'] .o_spa_tick").click();
  await animationFrame();
  expect(server.syncCalls).toHaveLength(1);
  const [tick] = server.syncCalls[0];
  expect(tick.kind).toBe("tick");
  expect(tick.step_id).toBe(11);
  expect(tick.uuid).toMatch(/^[0-9a-f-]{36}$/);
  expect(tick.device_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(".o_spa_checkin_overlay").toHaveCount(1);
  expect(".o_spa_pain").toHaveCount(11);
  // A mild pain is logged in one tap, without confirmation.
  server.session.completion_blockers = "";
  server.session.completion_blocker_lines = [];
  server.session.can_complete = true;
  await contains(".o_spa_pain[data-pain='2']").click();
  await animationFrame();
  expect(".o_dialog").toHaveCount(0);
  expect(".o_spa_checkin_overlay").toHaveCount(0);
  expect(
    pick(server.syncCalls[1][0], {kind: "checkin", step_id: 11, pain_level: 2})
  ).toEqual({
    kind: "checkin",
    step_id: 11,
    pain_level: 2,
  });
  expect(".o_spa_ready").toHaveCount(1);
  expect(".o_spa_complete_button").toBeEnabled();
  await contains(".o_spa_complete_button").click();
  expect(".o_spa_finished_done").toHaveCount(1);
});

test("a check-in at the threshold is one decision in the runner's overlay: log it and stop", async () => {
  const server = makeServer();
  await openRunner();
  await contains(".o_spa_checkin_button").click();
  await contains(".o_spa_pain[data-pain='8']").click();
  // No Odoo dialog over the pain panel: the runner's own full-width sheet.
  expect(".o_dialog").toHaveCount(0);
  expect(".o_spa_stop_overlay").toHaveCount(1);
  expect(".o_spa_stop_overlay .o_spa_stop_why").toHaveText(
    /Pain 8\/10 is at or above the stop threshold \(7\)/
  );
  expect(".o_spa_stop_overlay .o_spa_referral").toHaveText(/healthcare professional/);
  expect(server.syncCalls).toHaveLength(0);
  // One tap: the check-in is logged and the session stopped.
  await contains(".o_spa_stop_overlay .o_spa_stop_confirm").click();
  await animationFrame();
  expect(pick(server.syncCalls[0][0], {kind: "checkin", pain_level: 8})).toEqual({
    kind: "checkin",
    pain_level: 8,
  });
  expect(server.actionCalls.map((p) => p.action)).toEqual(["stop"]);
  expect(".o_spa_stop_overlay").toHaveCount(0);
  expect(".o_spa_finished_stopped .o_spa_referral_done").toHaveCount(1);
});

test("going back from the stop decision logs nothing", async () => {
  const server = makeServer();
  await openRunner();
  await contains(".o_spa_checkin_button").click();
  await contains(".o_spa_wants_stop").click();
  expect(".o_spa_stop_overlay .o_spa_stop_why").toHaveText("The client wants to stop.");
  await contains(".o_spa_stop_back").click();
  expect(server.syncCalls).toHaveLength(0);
  expect(server.actionCalls).toHaveLength(0);
  expect(".o_spa_stop_overlay").toHaveCount(0);
  // Back on the pain scale.
  expect(".o_spa_checkin_overlay").toHaveCount(1);
});

test("the footer's Stop is one decision too: a reason stops the session", async () => {
  const server = makeServer();
  await openRunner();
  await contains(".o_spa_stop_button").click();
  expect(".o_dialog").toHaveCount(0);
  expect(queryAllTexts(".o_spa_stop_overlay .o_spa_stop_reason")).toEqual([
    "Client late or absent",
    "Other",
  ]);
  await contains(".o_spa_stop_reason[data-reason='client_late']").click();
  expect(server.actionCalls).toEqual([{action: "stop", reason: "client_late"}]);
  expect(".o_spa_finished_stopped").toHaveCount(1);
});

test("a refused stop is shown in the overlay", async () => {
  const server = makeServer();
  server.session.is_stop_triggered = true;
  onRpc("/spa/tablet/session/1/action", () => ({
    ok: false,
    error: "SES/001 cannot be stopped: it is not in progress",
  }));
  await openRunner();
  // The stop rule holds: the overlay asks for the one decision left.
  expect(".o_spa_stop_overlay .o_spa_stop_confirm").toHaveText("Stop the session");
  await contains(".o_spa_stop_confirm").click();
  expect(".o_spa_stop_overlay .o_spa_action_error").toHaveText(
    "SES/001 cannot be stopped: it is not in progress"
  );
  expect(server.syncCalls).toHaveLength(0);
});

test("offline: work is queued on the device, shown pending, sent once back online", async () => {
  const server = makeServer();
  await openRunner();
  server.online = false;
  await contains(".o_spa_step[data-step-id='11'] .o_spa_tick").click();
  await animationFrame();
  expect(".o_spa_offline").toHaveCount(1);
  expect(".o_spa_pending_badge").toHaveText(/1/);
  expect(".o_spa_step[data-step-id='11']").toHaveClass("o_spa_step_pending");
  await contains(".o_spa_checkin_later").click();
  const stored = JSON.parse(
    browser.localStorage.getItem(`spa_session_protocol.queue.${serverState.userId}`)
  );
  expect(stored).toHaveLength(1);
  expect(stored[0].status).toBe("pending");
  expect(server.syncCalls).toHaveLength(0);

  server.online = true;
  browser.dispatchEvent(new Event("online"));
  await animationFrame();
  await animationFrame();
  expect(server.syncCalls).toHaveLength(1);
  expect(server.syncCalls[0][0].uuid).toBe(stored[0].uuid);
  expect(".o_spa_pending_badge").toHaveCount(0);
  expect(".o_spa_online").toHaveCount(1);
  expect(".o_spa_step[data-step-id='11']").toHaveClass("o_spa_step_done");
});

test("a refused tick is shown at the step where it was tapped, until dismissed", async () => {
  const server = makeServer();
  server.refuse.tick = "'Pressing motions': it requires a valid certification";
  await openRunner();
  await contains(".o_spa_step[data-step-id='11'] .o_spa_tick").click();
  await animationFrame();
  expect(
    ".o_spa_step[data-step-id='11'] .o_spa_refusal .o_spa_refusal_text"
  ).toHaveText("'Pressing motions': it requires a valid certification");
  // Not far away: no toast, no box at the top of the page.
  expect(".o_notification").toHaveCount(0);
  expect(".o_spa_refused_item").toHaveCount(0);
  // A refused tick asks for no check-in.
  expect(".o_spa_checkin_overlay").toHaveCount(0);
  expect(".o_spa_step[data-step-id='11']").toHaveClass("o_spa_step_todo");
  await contains(".o_spa_step[data-step-id='11'] .o_spa_refusal_ok").click();
  expect(".o_spa_refusal").toHaveCount(0);
});

test("only the current step can be ticked; the others are inactive", async () => {
  const server = makeServer();
  server.session.steps.push(STEP(13, "Cool-down"));
  await openRunner();
  expect(".o_spa_step[data-step-id='11']").toHaveClass("o_spa_step_current");
  expect(".o_spa_step[data-step-id='11'] .o_spa_tick").toBeEnabled();
  expect(".o_spa_step[data-step-id='12'] .o_spa_tick").not.toBeEnabled();
  expect(".o_spa_step[data-step-id='12'] .o_spa_tick").toHaveClass(
    "o_spa_tick_inactive"
  );
  expect(".o_spa_step[data-step-id='12'] .o_spa_skip").toHaveCount(0);
  expect(".o_spa_step[data-step-id='13'] .o_spa_tick").not.toBeEnabled();
  // Only the current step shows its instructions.
  expect(queryAllTexts(".o_spa_step_instructions")).toEqual([
    "How to do Pressing motions",
  ]);
  await contains(".o_spa_step[data-step-id='11'] .o_spa_tick").click();
  await animationFrame();
  await contains(".o_spa_checkin_later").click();
  // The optional step is now the current one: Done or Skip.
  expect(".o_spa_step[data-step-id='12'] .o_spa_tick").toBeEnabled();
  expect(".o_spa_step[data-step-id='12'] .o_spa_skip").toHaveCount(1);
  expect(".o_spa_step[data-step-id='13'] .o_spa_tick").not.toBeEnabled();
  expect(server.syncCalls.flat().map((op) => op.kind)).toEqual(["tick"]);
});

test("progress at a glance and one line per completion blocker", async () => {
  const server = makeServer();
  server.session.progress = {
    steps_done: 5,
    steps_total: 7,
    checkins_done: 1,
    checkins_required: 2,
  };
  server.session.completion_blocker_lines = [
    "2 mandatory step(s) not done: 'Pressing motions', 'Feedback check-ins'",
    "1 check-in(s) missing: after 'Pressing motions'",
  ];
  await openRunner();
  expect(".o_spa_footer_progress").toHaveText("5/7 steps · 1/2 check-ins");
  expect(queryAllTexts(".o_spa_blocker")).toEqual(
    server.session.completion_blocker_lines
  );
});

test("the logged check-ins are listed, a queued one marked pending", async () => {
  const server = makeServer();
  server.session.checkins = [
    {
      id: 5,
      uuid: "a",
      step_id: 11,
      pain_level: 3,
      stop_requested: false,
      triggers_stop: false,
      region_id: 1,
      region_name: "Upper back",
      logged_at: "2026-01-01 09:10:00",
      device_at: "2026-01-01 09:09:00",
    },
  ];
  await openRunner();
  expect(".o_spa_checkin_row").toHaveCount(1);
  expect(".o_spa_checkin_row .o_spa_checkin_pain").toHaveText("Pain 3/10");
  expect(".o_spa_checkin_row .o_spa_checkin_region_name").toHaveText("Upper back");
  expect(".o_spa_checkin_row .o_spa_checkin_step").toHaveText(
    "after 'Pressing motions'"
  );
  expect(".o_spa_checkin_row .o_spa_device_time").toHaveText(/tablet \d\d:\d\d/);
  server.online = false;
  await contains(".o_spa_checkin_button").click();
  await contains(".o_spa_pain[data-pain='2']").click();
  await animationFrame();
  expect(".o_spa_checkin_row").toHaveCount(2);
  // Newest first, pending until the server has it.
  expect(".o_spa_checkin_row:first").toHaveClass("o_spa_checkin_pending");
  expect(".o_spa_checkin_row:first .o_spa_checkin_pending_badge").toHaveCount(1);
  expect(".o_spa_checkin_row:first .o_spa_checkin_pain").toHaveText("Pain 2/10");
});

test("a finished session: no current step, skipped steps look skipped, states have their colours", async () => {
  const server = makeServer();
  Object.assign(server.session, {
    state: "done",
    state_label: "Completed",
    completion_blocker_lines: [],
    completion_blockers: "",
  });
  server.session.steps[0].state = "done";
  server.session.steps[1] = STEP(12, "Adjust the technique", {
    is_mandatory: false,
    record_kind: "adjustment",
    state: "skipped",
    skip_reason: "Not needed",
  });
  server.session.steps.push(STEP(13, "Advanced techniques", {is_mandatory: false}));
  await openRunner();
  expect(".o_spa_step_current").toHaveCount(0);
  expect(".o_spa_step_instructions").toHaveCount(0);
  expect(".o_spa_tick").toHaveCount(0);
  expect(".o_spa_step[data-step-id='12'] .o_spa_skipped_badge").toHaveCount(1);
  expect(".o_spa_step[data-step-id='12'] .o_spa_chip").toHaveCount(0);
  expect(".o_spa_step[data-step-id='13']").toHaveClass("o_spa_step_not_done");
  expect(".o_spa_state").toHaveClass("text-bg-success");
  expect(".o_spa_footer").toHaveCount(0);
});

test("Start waits for the consent, says why, and shows a refusal beside it", async () => {
  const server = makeServer();
  server.session.state = "draft";
  server.session.state_label = "Planned";
  server.session.consent_status = "missing";
  await openRunner();
  expect(".o_spa_consent_missing").toHaveCount(1);
  expect(".o_spa_start_button").not.toBeEnabled();
  expect(".o_spa_start_reason").toHaveText(/Client signs consent/);
  expect(".o_spa_sign_button").toBeEnabled();
  expect(".o_spa_state").toHaveClass("text-bg-info");
  // The draft shows no Done at all.
  expect(".o_spa_tick").toHaveCount(0);
  // With a valid consent, the server may still refuse: shown in the start card.
  server.session.consent_status = "valid";
  onRpc("/spa/tablet/session/1/action", () => ({
    ok: false,
    error: "The session cannot start: the health intake is missing",
  }));
  await getService("action").doAction({
    type: "ir.actions.client",
    tag: "spa_session_protocol.session_runner",
    context: {spa_session_id: 1},
  });
  await animationFrame();
  expect(".o_spa_start_button").toBeEnabled();
  expect(".o_spa_sign_button").toHaveCount(0);
  await contains(".o_spa_start_button").click();
  expect(".o_spa_start .o_spa_start_error").toHaveText(
    "The session cannot start: the health intake is missing"
  );
  expect(".o_spa_error").toHaveCount(0);
});

test("positioning and adjustments are recorded as chips", async () => {
  const server = makeServer();
  server.session.steps[0].record_kind = "positioning";
  await openRunner();
  // The step asks for its record first: Done stays inactive until then.
  expect(".o_spa_step[data-step-id='11'] .o_spa_tick").not.toBeEnabled();
  expect(".o_spa_step[data-step-id='11'] .o_spa_tick_wait").toHaveText(
    /positioning first/
  );
  expect(queryAllTexts(".o_spa_chip")).toEqual([
    "Prone on a massage table",
    "Seated upright on a chair",
  ]);
  await contains(".o_spa_chip[data-value='seated']").click();
  await animationFrame();
  expect(
    pick(server.syncCalls[0][0], {
      kind: "record",
      values: {positioning: "seated"},
    })
  ).toEqual({
    kind: "record",
    values: {positioning: "seated"},
  });
  expect(queryOne(".o_spa_chip[data-value='seated']")).toHaveClass("active");
  expect(".o_spa_step[data-step-id='11'] .o_spa_tick").toBeEnabled();
});

test("the offline queue keeps refused items and drops accepted ones", async () => {
  const storage = browser.localStorage;
  const queue = new OfflineQueue("test.queue", storage);
  const a = queue.add({kind: "tick", session_id: 1, step_id: 1});
  const b = queue.add({kind: "checkin", session_id: 1, pain_level: 3});
  const c = queue.add({kind: "tick", session_id: 2, step_id: 5});
  expect(new Set([a.uuid, b.uuid, c.uuid]).size).toBe(3);
  queue.applyResults([
    {uuid: a.uuid, ok: true},
    {uuid: b.uuid, ok: false, error: "refused"},
  ]);
  const reloaded = new OfflineQueue("test.queue", storage);
  expect(reloaded.pending().map((i) => i.uuid)).toEqual([c.uuid]);
  expect(reloaded.refused(1).map((i) => i.error)).toEqual(["refused"]);
  reloaded.dismiss(b.uuid);
  expect(reloaded.items).toHaveLength(1);
});

test("the runner is made of a list, a checklist and a consent component", async () => {
  expect(Object.keys(SessionRunner.components).sort()).toEqual([
    "ConsentPad",
    "SessionChecklist",
    "SessionList",
  ]);
  expect(SessionRunner.components.SessionChecklist).toBe(SessionChecklist);
  expect(SessionRunner.components.SessionList).toBe(SessionList);
  expect(SessionList.template).toBe("spa_session_protocol.SessionList");
  expect(SessionChecklist.template).toBe("spa_session_protocol.SessionChecklist");
  expect(SessionRunner.components.ConsentPad.template).toBe(
    "spa_session_protocol.ConsentPad"
  );
});

test("the consent pad draws only and gives its strokes in the picture's pixels", async () => {
  // The client's consent page and the tablet sign with the same pad.
  expect(ConsentPad.components).toEqual({DrawnSignaturePad});
  const canvas = document.createElement("canvas");
  Object.assign(canvas, {width: 400, height: 100});
  Object.assign(canvas.style, {width: "200px", height: "50px", display: "block"});
  getFixture().append(canvas);
  const strokes = DrawnSignaturePad.prototype.getStrokes.call({
    signatureRef: {el: canvas},
    signaturePad: {
      toData: () => [
        {
          points: [
            {x: 10, y: 5.04},
            {x: 100, y: 25},
          ],
        },
        {points: []},
      ],
    },
  });
  expect(strokes).toEqual([
    [
      [20, 10.1],
      [200, 50],
    ],
    [],
  ]);
});

test("the offline queue is a service shared by the runner's components", async () => {
  const server = makeServer();
  await openRunner();
  const queue = getService("spa_session_protocol.offline_queue");
  server.online = false;
  await contains(".o_spa_step[data-step-id='11'] .o_spa_tick").click();
  await animationFrame();
  expect(queue.pending(1).map((item) => item.kind)).toEqual(["tick"]);
  expect(queue.state.online).toBe(false);
  expect(".o_spa_pending_badge").toHaveText(/1/);
  server.online = true;
  await queue.flush();
  await animationFrame();
  expect(queue.pending()).toHaveLength(0);
  expect(".o_spa_pending_badge").toHaveCount(0);
});

test("the stop decision follows the server's stop levels, not a local threshold", async () => {
  const server = makeServer();
  // The server says only 9 and 10 stop the session (a protocol threshold
  // of 9), whatever pain_stop_threshold the payload also carries.
  server.session.stop_pain_levels = [9, 10];
  await openRunner();
  await contains(".o_spa_checkin_button").click();
  expect(".o_spa_pain[data-pain='8']").not.toHaveClass("o_spa_pain_severe");
  expect(".o_spa_pain[data-pain='9']").toHaveClass("o_spa_pain_severe");
  await contains(".o_spa_pain[data-pain='8']").click();
  await animationFrame();
  expect(".o_spa_stop_overlay").toHaveCount(0);
  expect(server.syncCalls[0][0].pain_level).toBe(8);
  // What blocks completion is the server's text, shown as is.
  server.session.completion_blocker_lines = ["the consent was withdrawn"];
  await contains(".o_spa_checkin_button").click();
  await contains(".o_spa_pain[data-pain='9']").click();
  expect(".o_spa_stop_overlay").toHaveCount(1);
  await contains(".o_spa_stop_back").click();
  await contains(".o_spa_checkin_later").click();
  await getService("action").doAction({
    type: "ir.actions.client",
    tag: "spa_session_protocol.session_runner",
    context: {spa_session_id: 1},
  });
  await animationFrame();
  expect(".o_spa_blocker").toHaveText("the consent was withdrawn");
});

test("the body chart: a check-in carries the region tapped; a region is removed to adapt", async () => {
  const server = makeServer();
  server.session.body_regions = [
    {
      id: 1,
      code: "upper_back",
      name: "Upper back",
      side: "back",
      is_sensitive: false,
      x: 100,
      y: 106,
      rx: 30,
      ry: 15,
    },
    {
      id: 7,
      code: "gluteal",
      name: "Buttocks",
      side: "back",
      is_sensitive: true,
      x: 100,
      y: 207,
      rx: 36,
      ry: 18,
    },
    {
      id: 9,
      code: "breast",
      name: "Breasts",
      side: "front",
      is_sensitive: true,
      x: 100,
      y: 119,
      rx: 34,
      ry: 14,
    },
  ];
  server.session.steps[0].touched_regions = [
    {id: 1, name: "Upper back", is_sensitive: false},
    {id: 7, name: "Buttocks", is_sensitive: true},
  ];
  await openRunner();
  expect(".o_spa_step[data-step-id='11'] .o_spa_step_region").toHaveCount(2);
  expect(
    ".o_spa_step[data-step-id='11'] .o_spa_step_region.text-bg-warning"
  ).toHaveText("Buttocks");
  await contains(
    ".o_spa_step[data-step-id='11'] .o_spa_step_region[data-region-id='7'] .o_spa_region_remove"
  ).click();
  await animationFrame();
  expect(
    pick(server.syncCalls[0][0], {kind: "regions", step_id: 11, region_ids: [1]})
  ).toEqual({
    kind: "regions",
    step_id: 11,
    region_ids: [1],
  });
  expect(".o_spa_step[data-step-id='11'] .o_spa_step_region").toHaveCount(1);

  await contains(".o_spa_checkin_button").click();
  expect(".o_spa_body_svg").toHaveCount(2);
  expect(".o_spa_body_svg[data-side='front'] .o_spa_region").toHaveCount(1);
  expect(".o_spa_body_svg[data-side='back'] .o_spa_region").toHaveCount(2);
  expect(".o_spa_body_svg[data-side='back'] .o_spa_region_sensitive").toHaveCount(1);
  await contains(".o_spa_region[data-region='upper_back']").click();
  expect(".o_spa_region_selected").toHaveAttribute("data-region", "upper_back");
  expect(".o_spa_checkin_region").toHaveText("Upper back");
  await contains(".o_spa_pain[data-pain='3']").click();
  await animationFrame();
  const checkin = server.syncCalls.at(-1)[0];
  expect(pick(checkin, {kind: "checkin", pain_level: 3, region_id: 1})).toEqual({
    kind: "checkin",
    pain_level: 3,
    region_id: 1,
  });
});
