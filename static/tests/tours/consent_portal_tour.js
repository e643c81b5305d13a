import {registry} from "@web/core/registry";

/** The signature pad once its section is open under the consent text. */
export const PAD = ".o_spa_consent_sign_section.show canvas.o_spa_sign_pad";

/**
 * Draw a short stroke on the signature pad with pointer events, as a finger
 * would, until the pad reports a signature (the pad is cleared once more
 * when its section finishes opening, so draw again if needed).
 */
export async function drawSignature() {
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let attempt = 0; attempt < 20; attempt++) {
    const canvas = document.querySelector(PAD);
    if (canvas) {
      const rect = canvas.getBoundingClientRect();
      const y = rect.top + rect.height / 2;
      const init = (x, yy) => ({
        bubbles: true,
        cancelable: true,
        clientX: x,
        clientY: yy,
        buttons: 1,
        pointerId: 1,
        pointerType: "touch",
        isPrimary: true,
        pressure: 0.5,
      });
      canvas.dispatchEvent(new PointerEvent("pointerdown", init(rect.left + 20, y)));
      for (let step = 1; step <= 8; step++) {
        await wait(25);
        const x = rect.left + 20 + step * 25;
        const yy = y + (step % 2 ? 15 : -15);
        canvas.dispatchEvent(new PointerEvent("pointermove", init(x, yy)));
      }
      canvas.dispatchEvent(new PointerEvent("pointerup", init(rect.left + 220, y)));
    }
    await wait(150);
    const submit = document.querySelector(".o_portal_sign_submit");
    if (submit && !submit.disabled) {
      return;
    }
  }
  throw new Error("The signature pad did not accept the drawn signature.");
}

/** The client reads the consent text, then signs it with a finger. */
export function signConsentSteps() {
  return [
    {
      content: "The client reads the consent text of the protocol",
      trigger: ".o_spa_consent_text:contains(upper-back release)",
    },
    {
      content: "They agree and open the signing pad under the text",
      trigger: "button.o_spa_consent_sign",
      run: "click",
    },
    {
      content: "They sign with a finger on the pad",
      trigger: PAD,
      run: drawSignature,
    },
    {
      content: "They send the signed consent",
      trigger: ".o_portal_sign_submit:enabled",
      run: "click",
    },
  ];
}

registry.category("web_tour.tours").add("spa_consent_portal_tour", {
  steps: () => [
    ...signConsentSteps(),
    {
      content: "The page confirms the consent is recorded",
      trigger: ".o_spa_consent_signed",
    },
    {
      content: "and shows the text they agreed to",
      trigger: ".o_spa_consent_given:contains(upper-back release)",
    },
  ],
});
