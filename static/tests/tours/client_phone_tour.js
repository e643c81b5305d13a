import {registry} from "@web/core/registry";
import {drawSignature, PAD} from "./consent_portal_tour";

const MIN_TOUCH = 48;
const MIN_PAD_HEIGHT = 180;

function fail(message) {
  throw new Error(message);
}

/**
 * The consent text is on screen and not covered: some of it lies inside the
 * viewport, and the element drawn at a point of that part is the text itself.
 */
function checkTextVisible() {
  const text = document.querySelector(".o_spa_consent_text");
  const rect = text.getBoundingClientRect();
  const top = Math.max(rect.top, 0);
  const bottom = Math.min(rect.bottom, window.innerHeight);
  if (bottom - top < 60) {
    fail(
      `The consent text is hidden while the pad is open (${Math.round(bottom - top)} px visible).`
    );
  }
  const x = rect.left + rect.width / 2;
  for (const y of [top + 10, (top + bottom) / 2, bottom - 10]) {
    const hit = document.elementFromPoint(x, y);
    if (!hit || !text.contains(hit)) {
      fail(
        `The consent text is covered at y=${Math.round(y)} by ${hit && hit.outerHTML.slice(0, 80)}.`
      );
    }
  }
}

/** The pad: on screen, the section's full width, tall enough for a finger. */
function checkPad() {
  const canvas = document.querySelector(PAD);
  const rect = canvas.getBoundingClientRect();
  const form = document
    .querySelector(".o_spa_consent_sign_form")
    .getBoundingClientRect();
  if (rect.height < MIN_PAD_HEIGHT) {
    fail(
      `The signature pad is ${Math.round(rect.height)} px high (at least ${MIN_PAD_HEIGHT}).`
    );
  }
  if (rect.width < form.width - 4) {
    fail(
      `The signature pad is ${Math.round(rect.width)} px wide, not the form's ${Math.round(form.width)}.`
    );
  }
  if (rect.top < 0 || rect.bottom > window.innerHeight) {
    fail(
      `The signature pad is not on screen (from ${Math.round(rect.top)} to ${Math.round(rect.bottom)} px, screen ${window.innerHeight} px).`
    );
  }
  if (canvas.width < rect.width - 2 || canvas.height < rect.height - 2) {
    fail(`The pad draws at ${canvas.width}x${canvas.height}, smaller than it shows.`);
  }
}

/** Every control of the signing form is at least 48 px high. */
function checkTouchTargets() {
  const controls = [
    ".o_spa_consent_sign",
    ".o_spa_consent_sign_form .o_web_sign_name_input",
    ".o_spa_consent_sign_form .o_spa_sign_clear",
    ".o_spa_consent_sign_form .o_portal_sign_submit",
  ];
  for (const selector of controls) {
    const element = document.querySelector(selector);
    if (!element) {
      fail(`Missing control ${selector}.`);
    }
    const height = element.getBoundingClientRect().height;
    if (height < MIN_TOUCH) {
      fail(`${selector} is ${Math.round(height)} px high (at least ${MIN_TOUCH}).`);
    }
  }
}

/** Only drawing: no "Auto" (typed name) and no "Load" (a picture). */
function checkDrawOnly() {
  const other = document.querySelector(
    ".o_web_sign_auto_button, .o_web_sign_load_button, .o_web_sign_auto_select_style, " +
      ".o_spa_consent_sign_section input[type=file]"
  );
  if (other) {
    fail(
      `The pad offers another way to sign than drawing: ${other.outerHTML.slice(0, 80)}.`
    );
  }
}

registry.category("web_tour.tours").add("spa_client_phone_sign_tour", {
  steps: () => [
    {
      content: "The client reads the consent text on their phone",
      trigger: ".o_spa_consent_text:contains(upper-back release)",
    },
    {
      content: "They agree and open the pad",
      trigger: "button.o_spa_consent_sign",
      run: "click",
    },
    {
      content: "The pad opens under the text: the text stays in view, not covered",
      trigger: `${PAD}`,
      run: checkTextVisible,
    },
    {
      content: "The pad is the form's width and tall enough for a finger",
      trigger: `${PAD}`,
      run: checkPad,
    },
    {
      content: "Every control is big enough for a finger",
      trigger: ".o_spa_consent_sign_form .o_spa_sign_clear",
      run: checkTouchTargets,
    },
    {
      content: "A consent is signed by drawing only",
      trigger: ".o_spa_consent_sign_form",
      run: checkDrawOnly,
    },
    {
      content: "They sign with a finger",
      trigger: `${PAD}`,
      run: drawSignature,
    },
    {
      content: "The text is still in view with the drawing on the pad",
      trigger: ".o_spa_consent_sign_form .o_portal_sign_submit:enabled",
      run: checkTextVisible,
    },
    {
      content: "They send the signed consent",
      trigger: ".o_spa_consent_sign_form .o_portal_sign_submit:enabled",
      run: "click",
    },
    {
      content: "The page confirms it",
      trigger: ".o_spa_consent_signed",
    },
    {
      content: "and says when it was given, in the client's time zone",
      trigger: ".o_spa_consent_given_at + .o_spa_tz:contains(Pacific/Auckland)",
    },
  ],
});

/* Tours that end on a screen to capture (scripts/screenshots). */

registry.category("web_tour.tours").add("spa_client_shot_consent", {
  steps: () => [
    {
      content: "The consent page, as the client opens the link",
      trigger: ".o_spa_consent_text:contains(upper-back release)",
    },
  ],
});

registry.category("web_tour.tours").add("spa_client_shot_signing", {
  steps: () => [
    {
      content: "The client opens the pad",
      trigger: "button.o_spa_consent_sign",
      run: "click",
    },
    {
      content: "and signs",
      trigger: `${PAD}`,
      run: drawSignature,
    },
    {
      content: "The signature is on the pad, ready to send, the pad on screen",
      trigger: ".o_spa_consent_sign_form .o_portal_sign_submit:enabled",
      run: checkPad,
    },
  ],
});

registry.category("web_tour.tours").add("spa_client_shot_portal", {
  steps: () => [
    {
      content: "The client's records, times in their time zone",
      trigger: ".o_spa_portal_records .o_spa_tz",
    },
  ],
});
