import {registry} from "@web/core/registry";

/** The kiosk's tours run on the room's link (/spa/kiosk#<token>), given by
 * the test (no login). */
const THERAPIST = "Kim Kiosk";

function typePin(pin) {
  return [
    ...[...pin].map((digit) => ({
      content: `Type ${digit}`,
      trigger: `.o_spa_kiosk_key[data-key='${digit}']`,
      run: "click",
    })),
    {content: "Unlock", trigger: ".o_spa_kiosk_key_ok", run: "click"},
  ];
}

const sent = {
  content: "Everything is sent",
  trigger: ".o_spa_kiosk.o_spa_kiosk_ready[data-pending='0']",
};

function tick(stepName) {
  return [
    {
      content: `Tick '${stepName}'`,
      trigger: `.o_spa_kiosk_step:contains("${stepName}") .o_spa_kiosk_tick`,
      run: "click",
    },
    sent,
    {
      content: `'${stepName}' is done by the therapist`,
      trigger: `.o_spa_kiosk_step_done:contains("${stepName}") .o_spa_kiosk_step_state:contains("${THERAPIST}")`,
    },
  ];
}

function skip(stepName) {
  return [
    {
      content: `Skip '${stepName}'`,
      trigger: `.o_spa_kiosk_step:contains("${stepName}") .o_spa_kiosk_skip`,
      run: "click",
    },
    sent,
    {
      content: `'${stepName}' is skipped`,
      trigger: `.o_spa_kiosk_step_skipped:contains("${stepName}") .o_spa_kiosk_step_state:contains("${THERAPIST}")`,
    },
  ];
}

function checkin(pain, count) {
  return [
    {
      content: `Check-in: pain ${pain}`,
      trigger: `.o_spa_kiosk_pain[data-pain='${pain}']`,
      run: "click",
    },
    sent,
    {
      content: `${count} check-in(s) logged`,
      trigger: `.o_spa_kiosk_checkin_count:contains(": ${count}")`,
    },
  ];
}

/** The room's token came in the fragment: it left the address bar at once
 * and stays on the device only. */
const noTokenInAddress = {
  content: "The address bar holds no token",
  trigger: ".o_spa_kiosk_ready",
  run: () => {
    const token = localStorage.getItem("spa_session_protocol.kiosk_token");
    if (!token || location.hash || location.href.includes(token)) {
      throw new Error(`Token not kept on the device or still in ${location.href}`);
    }
    if (location.pathname !== "/spa/kiosk") {
      throw new Error(`The kiosk is not on /spa/kiosk: ${location.pathname}`);
    }
  },
};

function openSession() {
  return [
    noTokenInAddress,
    {
      content: "Today's session in this room",
      trigger: `.o_spa_kiosk_ready .o_spa_kiosk_session:contains("${THERAPIST}")`,
      run: "click",
    },
    {content: "The PIN pad", trigger: ".o_spa_kiosk_keypad"},
  ];
}

registry.category("web_tour.tours").add("spa_kiosk_full_session", {
  steps: () => [
    ...openSession(),
    ...typePin("2468"),
    {content: "Unlocked: start", trigger: ".o_spa_kiosk_action_start", run: "click"},
    {content: "Started", trigger: ".o_spa_kiosk_tick"},
    ...tick("Prepare the client and get consent"),
    {
      content: "Positioning: prone on a table",
      trigger: ".o_spa_kiosk_positioning [data-positioning='prone_table']",
      run: "click",
    },
    sent,
    ...tick("Positioning"),
    ...tick("Warm-up"),
    ...tick("Locate the target area"),
    ...tick("Stabilise and apply pressure"),
    ...checkin(3, 1),
    ...tick("Pressing motions"),
    ...checkin(2, 2),
    ...tick("Feedback check-ins"),
    ...skip("Adjust the technique"),
    ...skip("Advanced techniques"),
    {
      content: "Nothing blocks completion",
      trigger: ".o_spa_kiosk:not(:has(.o_spa_kiosk_blockers)) .o_spa_kiosk_action_done",
      run: "click",
    },
    {
      content: "Completed",
      trigger: ".o_spa_kiosk:not(:has(.o_spa_kiosk_pains)) .o_spa_kiosk_session_head",
    },
    {content: "Lock", trigger: ".o_spa_kiosk_lock", run: "click"},
    {
      content: "Locked: back to the room's plan",
      trigger: ".o_spa_kiosk_sessions .o_spa_kiosk_session",
    },
  ],
});

registry.category("web_tour.tours").add("spa_kiosk_wrong_pin", {
  steps: () => [
    ...openSession(),
    ...typePin("1111"),
    {content: "Wrong PIN", trigger: ".o_spa_kiosk_pin_error:contains('4')"},
    ...typePin("1111"),
    {content: "Wrong PIN", trigger: ".o_spa_kiosk_pin_error:contains('3')"},
    ...typePin("1111"),
    {content: "Wrong PIN", trigger: ".o_spa_kiosk_pin_error:contains('2')"},
    ...typePin("1111"),
    {content: "Wrong PIN", trigger: ".o_spa_kiosk_pin_error:contains('1')"},
    ...typePin("1111"),
    {content: "Locked out", trigger: ".o_spa_kiosk_pin_error:contains('locked out')"},
    ...typePin("2468"),
    {
      content: "Even the right PIN waits five minutes",
      trigger: ".o_spa_kiosk_pin_error:contains('locked out')",
    },
    {content: "Still locked", trigger: ".o_spa_kiosk:not(:has(.o_spa_kiosk_steps))"},
    {
      content: "The address bar holds no token",
      trigger: ".o_spa_kiosk",
      run: () => {
        if (window.location.pathname !== "/spa/kiosk" || window.location.hash) {
          throw new Error(`The token is still in the address: ${window.location.href}`);
        }
      },
    },
  ],
});

registry.category("web_tour.tours").add("spa_kiosk_address_refused", {
  steps: () => [
    {
      content: "The old kiosk link is refused",
      trigger: ".o_spa_kiosk_refused:contains('no longer valid')",
    },
    {
      content: "and the device forgets its token",
      trigger: ".o_spa_kiosk_refused",
      run: () => {
        if (localStorage.getItem("spa_session_protocol.kiosk_token") || location.hash) {
          throw new Error("The refused token is still kept");
        }
      },
    },
  ],
});

registry.category("web_tour.tours").add("spa_kiosk_regenerate_token", {
  url: "/odoo/action-spa_session_protocol.spa_room_action",
  steps: () => [
    {
      content: "Open the room",
      trigger: ".o_data_row td[name='name']:contains('Tour Room')",
      run: "click",
    },
    {
      content: "Copy the room's kiosk link",
      trigger: ".o_form_view button[name='action_copy_kiosk_link']",
      run: "click",
    },
    {
      content:
        "Copied, or told to open it on the tablet (the clipboard may be refused)",
      trigger: ".o_notification:contains('kiosk link')",
    },
    {
      content: "New kiosk URL",
      trigger: ".o_form_view button[name='action_regenerate_kiosk_token']",
      run: "click",
    },
    {content: "Confirm", trigger: ".modal .modal-footer .btn-primary", run: "click"},
    {content: "Done", trigger: "body:not(:has(.modal))"},
  ],
});

/** Ask the test to take the server away (or bring it back): it listens to the console. */
function network(state) {
  return {
    content: `The network goes ${state}`,
    trigger: ".o_spa_kiosk",
    run: async () => {
      console.log(`spa_kiosk_test:${state}`);
      // Wait until the server is (un)reachable as asked.
      for (let attempt = 0; attempt < 100; attempt++) {
        let ok = false;
        try {
          const response = await fetch("/spa/kiosk/plan", {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({jsonrpc: "2.0", method: "call", params: {}}),
          });
          ok = response.ok;
        } catch {
          ok = false;
        }
        if (ok === (state === "online")) {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`The network did not go ${state}`);
    },
  };
}

registry.category("web_tour.tours").add("spa_kiosk_offline", {
  steps: () => [
    ...openSession(),
    ...typePin("2468"),
    {content: "Unlocked: start", trigger: ".o_spa_kiosk_action_start", run: "click"},
    {content: "Started", trigger: ".o_spa_kiosk_tick"},
    ...tick("Prepare the client and get consent"),
    {
      content: "The service worker keeps the page and its assets",
      trigger: ".o_spa_kiosk[data-cached='1']",
      timeout: 30000,
    },
    network("offline"),
    {
      content: "Reload without network",
      trigger: ".o_spa_kiosk",
      run: () => location.reload(),
    },
    {
      content: "The page is back, from the service worker, with the session",
      trigger: ".o_spa_kiosk_ready .o_spa_kiosk_net.o_spa_kiosk_offline",
    },
    noTokenInAddress,
    {
      content: "The room's name comes from the plan kept on the tablet",
      trigger: ".o_spa_kiosk_room:contains('Tour Room')",
    },
    {
      content: "Positioning: prone on a table (queued)",
      trigger: ".o_spa_kiosk_positioning [data-positioning='prone_table']",
      run: "click",
    },
    {
      content: "Tick 'Positioning' (queued)",
      trigger: '.o_spa_kiosk_step:contains("Positioning") .o_spa_kiosk_tick',
      run: "click",
    },
    {
      content: "Check-in: pain 2 (queued)",
      trigger: ".o_spa_kiosk_pain[data-pain='2']",
      run: "click",
    },
    {
      content: "Three operations wait on the tablet",
      trigger:
        ".o_spa_kiosk[data-pending='3'] .o_spa_kiosk_step_done:contains('Positioning')",
    },
    network("online"),
    {
      content: "Sent once the network is back",
      trigger: ".o_spa_kiosk[data-pending='0']",
      timeout: 40000,
    },
    {
      content: "Each result is shown",
      trigger: ".o_spa_kiosk_outbox .o_spa_kiosk_result_done:nth-of-type(3)",
    },
    {
      content: "'Positioning' is done by the therapist",
      trigger: `.o_spa_kiosk_step_done:contains("Positioning") .o_spa_kiosk_step_state:contains("${THERAPIST}")`,
    },
    {content: "Lock", trigger: ".o_spa_kiosk_lock", run: "click"},
    {
      content: "Locked: nothing clinical stays on the tablet",
      trigger: ".o_spa_kiosk_sessions .o_spa_kiosk_session",
      run: async () => {
        const name = (await indexedDB.databases())
          .map((db) => db.name)
          .find((n) => n.startsWith("spa_kiosk_"));
        const db = await new Promise((resolve, reject) => {
          const req = indexedDB.open(name);
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        const read = (store, how) =>
          new Promise((resolve, reject) => {
            const req = db.transaction(store).objectStore(store)[how]();
            req.onsuccess = () => resolve(req.result);
            req.onerror = () => reject(req.error);
          });
        const outbox = await read("outbox", "getAll");
        const keys = await read("state", "getAllKeys");
        if (outbox.length || keys.includes("current")) {
          throw new Error(`Left on the tablet: ${outbox.length} item(s), ${keys}`);
        }
      },
    },
  ],
});
