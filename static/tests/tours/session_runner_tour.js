import {registry} from "@web/core/registry";

const RUNNER_URL = "/odoo/spa-tablet";

/** Wait until every queued item reached the server. */
const synced = {
  content: "Everything is sent",
  trigger: ".o_spa_topbar:not(:has(.o_spa_pending_badge)) .o_spa_online",
};

/** A short description of an element, for a failure message. */
function describe(el) {
  const classes = [...el.classList].filter((c) => c.startsWith("o_")).join(".");
  const text = (el.innerText || el.value || "").trim().slice(0, 30);
  return `${el.tagName.toLowerCase()}${classes ? "." + classes : ""} "${text}"`;
}

function visible(el) {
  const rect = el.getBoundingClientRect();
  return (
    rect.width > 0 && rect.height > 0 && getComputedStyle(el).visibility !== "hidden"
  );
}

/**
 * Arm's length, measured in the browser: every control of `scope` at least
 * 48 px high, step names at least 20 px, any other text at least 16 px.
 */
function armsLength(scope, label) {
  return {
    content: `Arm's length: ${label}`,
    trigger: scope,
    run() {
      const root = this.anchor;
      const problems = [];
      const controls = root.querySelectorAll(
        "button, .btn, input:not([type='hidden']), textarea, select"
      );
      let measured = 0;
      for (const el of controls) {
        if (!visible(el)) {
          continue;
        }
        measured++;
        const {height} = el.getBoundingClientRect();
        if (height < 47.5) {
          problems.push(`${describe(el)} is ${height.toFixed(1)} px high`);
        }
      }
      if (!measured) {
        problems.push("no control measured");
      }
      for (const el of root.querySelectorAll(".o_spa_step_name")) {
        const size = parseFloat(getComputedStyle(el).fontSize);
        if (visible(el) && size < 20) {
          problems.push(`step name ${describe(el)} is ${size} px`);
        }
      }
      for (const el of root.querySelectorAll("*")) {
        if (el.closest("svg") || !visible(el)) {
          continue;
        }
        const ownText = [...el.childNodes].some(
          (node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim()
        );
        const size = parseFloat(getComputedStyle(el).fontSize);
        if (ownText && size < 15.5) {
          problems.push(`text ${describe(el)} is ${size} px`);
        }
      }
      if (problems.length) {
        throw new Error(
          `Not readable or tappable at arm's length: ${problems.join("; ")}`
        );
      }
    },
  };
}

/** The element is inside the viewport (not above nor below it). */
function inViewport(selector, label) {
  return {
    content: `${label}: inside the viewport`,
    trigger: selector,
    run() {
      const rect = this.anchor.getBoundingClientRect();
      if (rect.top < 0 || rect.bottom > window.innerHeight) {
        throw new Error(
          `${selector} is outside the viewport (top ${rect.top}, bottom ${rect.bottom}, height ${window.innerHeight})`
        );
      }
    },
  };
}

function tick(stepName) {
  return [
    {
      content: `'${stepName}' is the one step that can be ticked`,
      trigger: `.o_spa_step.o_spa_step_current:contains("${stepName}") .o_spa_tick:enabled`,
    },
    {
      content: `Tick '${stepName}'`,
      trigger: `.o_spa_step:contains("${stepName}") .o_spa_tick`,
      run: "click",
    },
    {
      content: `'${stepName}' is done`,
      trigger: `.o_spa_step.o_spa_step_done:contains("${stepName}")`,
    },
  ];
}

function checkin(pain) {
  return [
    {content: "The runner asks for a check-in", trigger: ".o_spa_checkin_overlay"},
    {
      content: `Pain ${pain}`,
      trigger: `.o_spa_pain[data-pain='${pain}']`,
      run: "click",
    },
    {content: "Check-in logged", trigger: "body:not(:has(.o_spa_checkin_overlay))"},
  ];
}

function skip(stepName) {
  return [
    {
      content: `Skip '${stepName}'`,
      trigger: `.o_spa_step:contains("${stepName}") .o_spa_skip`,
      run: "click",
    },
    {
      content: "Reason: not needed",
      trigger: `.o_spa_step:contains("${stepName}") .o_spa_skip_reason:first`,
      run: "click",
    },
    {
      content: `'${stepName}' is skipped`,
      trigger: `.o_spa_step.o_spa_step_skipped:contains("${stepName}")`,
    },
  ];
}

function openSession(clientName) {
  return [
    {
      content: `Open the session of ${clientName}`,
      trigger: `.o_spa_session_item:contains("${clientName}")`,
      run: "click",
    },
    {content: "The checklist is shown", trigger: ".o_spa_steps .o_spa_step"},
  ];
}

registry.category("web_tour.tours").add("spa_tablet_full_session", {
  url: RUNNER_URL,
  steps: () => [
    {
      content: "Consent valid at a glance",
      trigger:
        '.o_spa_session_item:contains("Clara Client") .o_spa_consent_badge.text-bg-success',
    },
    {
      content: "Planned sessions have their own colour",
      trigger: '.o_spa_session_item:contains("Clara Client") .o_spa_state.text-bg-info',
    },
    armsLength(".o_spa_runner", "today's sessions"),
    ...openSession("Clara Client"),
    {
      content: "Planned: no Done at all",
      trigger: ".o_spa_steps:not(:has(.o_spa_tick))",
    },
    {content: "Start", trigger: ".o_spa_start_button:enabled", run: "click"},
    {content: "Started", trigger: ".o_spa_footer .o_spa_blockers_text"},
    {content: "Running has its colour", trigger: ".o_spa_state.text-bg-primary"},
    {
      content: "Progress at a glance",
      trigger: ".o_spa_footer_progress:contains('0/7 steps · 0/2 check-ins')",
    },
    {
      content: "Each blocker on its own line",
      trigger:
        ".o_spa_blocker_list:has(.o_spa_blocker:contains('mandatory step')):has(.o_spa_blocker:contains('check-in'))",
    },
    {
      content: "A later step's Done is inactive",
      trigger:
        '.o_spa_step.o_spa_step_upcoming:contains("Warm-up") .o_spa_tick:disabled',
    },
    armsLength(".o_spa_runner", "the running session"),
    ...tick("Prepare the client and get consent"),
    {
      content: "Positioning: Done waits for the positioning",
      trigger: '.o_spa_step_current:contains("Positioning") .o_spa_tick:disabled',
    },
    {
      content: "Positioning: prone on a table",
      trigger: ".o_spa_chip[data-value='prone_table']",
      run: "click",
    },
    {content: "Chip selected", trigger: ".o_spa_chip.active[data-value='prone_table']"},
    ...tick("Positioning"),
    {
      content: "The tick keeps the tablet's time beside the server's",
      trigger:
        '.o_spa_step_done:contains("Positioning") .o_spa_step_done_by .o_spa_device_time',
    },
    ...tick("Warm-up"),
    ...tick("Locate the target area"),
    ...tick("Stabilise and apply pressure"),
    ...checkin(3),
    ...tick("Pressing motions"),
    ...checkin(2),
    {
      content: "The check-ins are listed",
      trigger:
        ".o_spa_checkins:has(.o_spa_checkin_row:contains('Pain 3/10')):has(.o_spa_checkin_row:contains('Pain 2/10'))",
    },
    ...tick("Feedback check-ins"),
    ...skip("Adjust the technique"),
    ...skip("Advanced techniques"),
    synced,
    {
      content: "Everything done at a glance",
      trigger: ".o_spa_footer_progress:contains('7/7 steps · 2/2 check-ins')",
    },
    {content: "Nothing blocks completion", trigger: ".o_spa_ready"},
    armsLength(".o_spa_runner", "ready to complete"),
    {content: "Complete", trigger: ".o_spa_complete_button:enabled", run: "click"},
    {content: "Completed", trigger: ".o_spa_finished_done"},
    {content: "Completed has its colour", trigger: ".o_spa_state.text-bg-success"},
    {
      content: "After the end: no current step, no instructions",
      trigger:
        ".o_spa_steps:not(:has(.o_spa_step_current)):not(:has(.o_spa_step_instructions))",
    },
    {
      content: "Skipped steps look skipped, without live chips",
      trigger:
        '.o_spa_step.o_spa_step_skipped:contains("Adjust the technique"):has(.o_spa_skipped_badge):not(:has(.o_spa_chip))',
    },
  ],
});

registry.category("web_tour.tours").add("spa_tablet_pain_stop", {
  url: RUNNER_URL,
  steps: () => [
    ...openSession("Clara Client"),
    {
      content: "Completion is blocked",
      trigger: ".o_spa_blocker:contains('mandatory step')",
    },
    ...tick("Stabilise and apply pressure"),
    {content: "The runner asks for a check-in", trigger: ".o_spa_checkin_overlay"},
    armsLength(".o_spa_checkin_panel", "the check-in panel"),
    {content: "Pain 8", trigger: ".o_spa_pain[data-pain='8']", run: "click"},
    {
      content: "One decision, in the runner's own overlay (no Odoo dialog)",
      trigger:
        "body:not(:has(.modal)) .o_spa_stop_overlay .o_spa_stop_why:contains('stop threshold (7)')",
    },
    {
      content: "with the referral",
      trigger:
        ".o_spa_stop_overlay .o_spa_referral:contains('healthcare professional')",
    },
    {
      content: "The overlay is full width",
      trigger: ".o_spa_stop_overlay .o_spa_stop_sheet",
      run() {
        const width = this.anchor.getBoundingClientRect().width;
        if (width < window.innerWidth - 40) {
          throw new Error(`The stop sheet is ${width} px wide of ${window.innerWidth}`);
        }
      },
    },
    armsLength(".o_spa_stop_overlay", "the stop decision"),
    {content: "Log it and stop", trigger: ".o_spa_stop_confirm:enabled", run: "click"},
    {
      content: "Stopped, referral recommended",
      trigger: ".o_spa_finished_stopped .o_spa_referral_done",
    },
    {content: "Stopped has its colour", trigger: ".o_spa_state.text-bg-danger"},
    {
      content: "The check-in is listed",
      trigger: ".o_spa_checkin_row:contains('Pain 8/10'):contains('after')",
    },
    {
      content: "No current step after the end",
      trigger: ".o_spa_steps:not(:has(.o_spa_step_current)):not(:has(.o_spa_tick))",
    },
  ],
});

registry.category("web_tour.tours").add("spa_tablet_refusal_at_the_step", {
  url: RUNNER_URL,
  steps: () => [
    ...openSession("Clara Client"),
    ...skip("Adjust the technique"),
    synced,
    {
      content: "'Advanced techniques' is the one step that can be ticked",
      trigger:
        '.o_spa_step.o_spa_step_current:contains("Advanced techniques") .o_spa_tick:enabled',
    },
    {
      content: "Tick 'Advanced techniques'",
      trigger: '.o_spa_step:contains("Advanced techniques") .o_spa_tick',
      run: "click",
    },
    {
      content: "The server's refusal shows at the step tapped",
      trigger:
        '.o_spa_step:contains("Advanced techniques") .o_spa_refusal:contains("certification")',
    },
    inViewport(
      '.o_spa_step:contains("Advanced techniques") .o_spa_refusal',
      "The refusal"
    ),
    {
      content: "No far-away toast or box",
      trigger: "body:not(:has(.o_notification)):not(:has(.o_spa_refused_item))",
    },
    {
      content: "The step is back to do",
      trigger: '.o_spa_step.o_spa_step_todo:contains("Advanced techniques")',
    },
    {
      content: "Understood",
      trigger: '.o_spa_step:contains("Advanced techniques") .o_spa_refusal_ok',
      run: "click",
    },
    {content: "Dismissed", trigger: ".o_spa_steps:not(:has(.o_spa_refusal))"},
  ],
});

registry.category("web_tour.tours").add("spa_tablet_consent", {
  url: RUNNER_URL,
  steps: () => [
    {
      content: "No consent at a glance",
      trigger:
        '.o_spa_session_item:contains("Carl Client") .o_spa_consent_badge.text-bg-danger',
    },
    ...openSession("Carl Client"),
    {content: "Start waits for the consent", trigger: ".o_spa_start_button:disabled"},
    {
      content: "It says why, and how to record the consent here",
      trigger: ".o_spa_start_reason:contains('Client signs consent')",
    },
    inViewport(".o_spa_start_reason", "Why Start waits"),
    {content: "The client signs", trigger: ".o_spa_sign_button", run: "click"},
    {
      content: "The client reads the consent text",
      trigger: ".o_spa_consent_text:contains('upper-back release')",
    },
    {
      content: "A drawn signature only",
      trigger: ".o_spa_consent_pad .o_web_sign_draw_button.active:visible",
    },
    {
      content: "No typed or uploaded signature: the Auto and Load tabs are hidden",
      trigger:
        ".o_spa_consent_pad:not(:has(.o_web_sign_auto_button:visible)):not(:has(.o_web_sign_load_button:visible))",
    },
    armsLength(".o_spa_consent_pad", "the consent pad"),
    {content: "Agree", trigger: ".o_spa_agree_box", run: "click"},
    {
      content:
        "Sign with a finger (paced as a finger moves: the pad keeps a point every 16 ms)",
      trigger: "canvas.o_web_sign_signature",
      async run() {
        const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
        const canvas = this.anchor;
        const rect = canvas.getBoundingClientRect();
        const at = (x, y) => ({
          bubbles: true,
          cancelable: true,
          pointerId: 1,
          pointerType: "touch",
          isPrimary: true,
          buttons: 1,
          clientX: rect.left + x * rect.width,
          clientY: rect.top + y * rect.height,
        });
        canvas.dispatchEvent(new PointerEvent("pointerdown", at(0.1, 0.5)));
        for (let i = 1; i <= 20; i++) {
          const x = 0.1 + (0.8 * i) / 20;
          const y = 0.5 + 0.3 * Math.sin(i / 2);
          await wait(25);
          canvas.dispatchEvent(new PointerEvent("pointermove", at(x, y)));
        }
        canvas.ownerDocument.dispatchEvent(
          new PointerEvent("pointerup", {...at(0.9, 0.5), buttons: 0})
        );
      },
    },
    {content: "Sign and give", trigger: ".o_spa_consent_sign:enabled", run: "click"},
    {content: "Back on the session: consent valid", trigger: ".o_spa_consent_ok"},
    {content: "Start", trigger: ".o_spa_start_button:enabled", run: "click"},
    {content: "Started", trigger: ".o_spa_state:contains('In Progress')"},
  ],
});

// Screens for scripts/screenshots: each tour ends on the screen to capture.
registry.category("web_tour.tours").add("spa_tablet_shot_list", {
  url: RUNNER_URL,
  steps: () => [{content: "Today's sessions", trigger: ".o_spa_session_item"}],
});

registry.category("web_tour.tours").add("spa_tablet_shot_session", {
  url: RUNNER_URL,
  steps: () => [
    ...openSession("Clara Client"),
    {trigger: ".o_spa_footer .o_spa_footer_progress"},
  ],
});

registry.category("web_tour.tours").add("spa_tablet_shot_checkin", {
  url: RUNNER_URL,
  steps: () => [
    ...openSession("Clara Client"),
    {trigger: ".o_spa_checkin_button", run: "click"},
    {trigger: ".o_spa_checkin_overlay .o_spa_wants_stop"},
  ],
});

registry.category("web_tour.tours").add("spa_tablet_shot_stop", {
  url: RUNNER_URL,
  steps: () => [
    ...openSession("Clara Client"),
    {trigger: ".o_spa_checkin_button", run: "click"},
    {trigger: ".o_spa_pain[data-pain='8']", run: "click"},
    {trigger: ".o_spa_stop_overlay .o_spa_stop_confirm"},
  ],
});

registry.category("web_tour.tours").add("spa_tablet_shot_start", {
  url: RUNNER_URL,
  steps: () => [...openSession("Carl Client"), {trigger: ".o_spa_start_reason"}],
});

registry.category("web_tour.tours").add("spa_tablet_shot_consent", {
  url: RUNNER_URL,
  steps: () => [
    ...openSession("Carl Client"),
    {trigger: ".o_spa_sign_button", run: "click"},
    {trigger: "canvas.o_web_sign_signature"},
  ],
});

registry.category("web_tour.tours").add("spa_tablet_shot_finished", {
  url: RUNNER_URL,
  steps: () => [...openSession("Dora Done"), {trigger: ".o_spa_finished_done"}],
});

registry.category("web_tour.tours").add("spa_tablet_open_from_form", {
  steps: () => [
    {
      content: "Open the session on the tablet from its form",
      trigger: ".o_form_view button:contains('Open on tablet')",
      run: "click",
    },
    {
      content: "The runner shows that session",
      trigger: ".o_spa_runner .o_spa_title:contains('Clara Client')",
    },
    {trigger: ".o_spa_runner .o_spa_start_button"},
  ],
});
