import { registry } from "@web/core/registry";

const RUNNER_URL = "/odoo/spa-tablet";

/** Wait until every queued item reached the server. */
const synced = {
    content: "Everything is sent",
    trigger: ".o_spa_topbar:not(:has(.o_spa_pending_badge)) .o_spa_online",
};

function tick(stepName) {
    return [
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
        { content: "The runner asks for a check-in", trigger: ".o_spa_checkin_overlay" },
        { content: `Pain ${pain}`, trigger: `.o_spa_pain[data-pain='${pain}']`, run: "click" },
        { content: "Check-in logged", trigger: "body:not(:has(.o_spa_checkin_overlay))" },
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
        { content: "The checklist is shown", trigger: ".o_spa_steps .o_spa_step" },
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
        ...openSession("Clara Client"),
        { content: "Start", trigger: ".o_spa_start_button:enabled", run: "click" },
        { content: "Started", trigger: ".o_spa_footer .o_spa_blockers_text" },
        ...tick("Prepare the client and get consent"),
        {
            content: "Positioning: prone on a table",
            trigger: ".o_spa_chip[data-value='prone_table']",
            run: "click",
        },
        { content: "Chip selected", trigger: ".o_spa_chip.active[data-value='prone_table']" },
        ...tick("Positioning"),
        ...tick("Warm-up"),
        ...tick("Locate the target area"),
        ...tick("Stabilise and apply pressure"),
        ...checkin(3),
        ...tick("Pressing motions"),
        ...checkin(2),
        ...tick("Feedback check-ins"),
        ...skip("Adjust the technique"),
        ...skip("Advanced techniques"),
        synced,
        { content: "Nothing blocks completion", trigger: ".o_spa_ready" },
        { content: "Complete", trigger: ".o_spa_complete_button:enabled", run: "click" },
        { content: "Completed", trigger: ".o_spa_finished_done" },
    ],
});

registry.category("web_tour.tours").add("spa_tablet_pain_stop", {
    url: RUNNER_URL,
    steps: () => [
        ...openSession("Clara Client"),
        {
            content: "Completion is blocked",
            trigger: ".o_spa_blockers_text:contains('mandatory step')",
        },
        ...tick("Stabilise and apply pressure"),
        { content: "The runner asks for a check-in", trigger: ".o_spa_checkin_overlay" },
        { content: "Pain 8", trigger: ".o_spa_pain[data-pain='8']", run: "click" },
        {
            content: "The tablet confirms before sending",
            trigger: ".modal:contains('stop threshold (7)') .btn-danger",
            run: "click",
        },
        synced,
        {
            content: "Straight to Stop, with the referral",
            trigger: ".o_spa_stop_panel .o_spa_referral:contains('healthcare professional')",
        },
        {
            content: "The server says the stop rule blocks completion",
            trigger: ".o_spa_blockers_text:contains('8/10')",
        },
        { content: "Complete stays disabled", trigger: ".o_spa_complete_button:disabled" },
        { content: "Stop now", trigger: ".o_spa_stop_now:enabled", run: "click" },
        {
            content: "Stopped, referral recommended",
            trigger: ".o_spa_finished_stopped .o_spa_referral_done",
        },
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
        { content: "Start", trigger: ".o_spa_start_button:enabled", run: "click" },
        {
            content: "The server refuses: no consent",
            trigger: ".o_spa_error:contains('consent')",
        },
        { content: "The client signs", trigger: ".o_spa_sign_button", run: "click" },
        {
            content: "The client reads the consent text",
            trigger: ".o_spa_consent_text:contains('upper-back release')",
        },
        { content: "Agree", trigger: ".o_spa_agree_box", run: "click" },
        {
            content: "Sign with a finger",
            trigger: "canvas.o_web_sign_signature",
            run() {
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
                    canvas.dispatchEvent(new PointerEvent("pointermove", at(x, y)));
                }
                canvas.ownerDocument.dispatchEvent(
                    new PointerEvent("pointerup", { ...at(0.9, 0.5), buttons: 0 })
                );
            },
        },
        { content: "Sign and give", trigger: ".o_spa_consent_sign:enabled", run: "click" },
        { content: "Back on the session: consent valid", trigger: ".o_spa_consent_ok" },
        { content: "Start", trigger: ".o_spa_start_button:enabled", run: "click" },
        { content: "Started", trigger: ".o_spa_state:contains('In Progress')" },
    ],
});

// Screens for scripts/screenshots: each tour ends on the screen to capture.
registry.category("web_tour.tours").add("spa_tablet_shot_list", {
    url: RUNNER_URL,
    steps: () => [{ content: "Today's sessions", trigger: ".o_spa_session_item" }],
});

registry.category("web_tour.tours").add("spa_tablet_shot_session", {
    url: RUNNER_URL,
    steps: () => [...openSession("Clara Client"), { trigger: ".o_spa_footer" }],
});

registry.category("web_tour.tours").add("spa_tablet_shot_checkin", {
    url: RUNNER_URL,
    steps: () => [
        ...openSession("Clara Client"),
        { trigger: ".o_spa_checkin_button", run: "click" },
        { trigger: ".o_spa_checkin_overlay .o_spa_wants_stop" },
    ],
});

registry.category("web_tour.tours").add("spa_tablet_shot_consent", {
    url: RUNNER_URL,
    steps: () => [
        ...openSession("Carl Client"),
        { trigger: ".o_spa_sign_button", run: "click" },
        { trigger: "canvas.o_web_sign_signature" },
    ],
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
        { trigger: ".o_spa_runner .o_spa_start_button" },
    ],
});
