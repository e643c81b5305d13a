import {registry} from "@web/core/registry";

import {signConsentSteps} from "./consent_portal_tour";

/** One answer of the health intake, by its question and choice text. */
function answer(question, choice) {
  return {
    content: `The client answers "${choice}" to "${question}"`,
    trigger: `div.js_question-wrapper:contains("${question}") label:contains("${choice}")`,
    run: "click",
  };
}

registry.category("web_tour.tours").add("spa_intake_portal_tour", {
  steps: () => [
    ...signConsentSteps(),
    {
      content: "The page confirms the consent and leads on to the health questions",
      trigger: ".o_spa_consent_signed",
    },
    {
      content: "They go on to the health questionnaire",
      trigger: "a.o_spa_intake_start",
      run: "click",
    },
    {
      content: "Survey's own answering flow starts",
      trigger: 'button.btn:contains("Start")',
      run: "click",
    },
    answer("pain or discomfort", "No"),
    answer("injury, a fracture or surgery", "No"),
    answer("osteoporosis", "No"),
    answer("pregnant", "Not applicable"),
    answer("blood thinners", "No"),
    answer("fever", "No"),
    answer("skin condition", "No"),
    answer("allergic", "Yes"),
    {
      content: "The conditional follow-up question appears: which ones?",
      trigger: 'div.js_question-wrapper:contains("Which ones?") textarea',
      run: "edit Almond oil",
    },
    answer("another health condition", "No"),
    {
      content: "They send their answers",
      trigger: 'button[value="finish"]',
      run: "click",
    },
    {
      content: "Their answers are recorded",
      trigger: "div:contains(your answers are recorded)",
    },
  ],
});
