import { registry } from "@web/core/registry";

import { drawSignature } from "./consent_portal_tour";

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
        {
            content: "The client reads the consent text of the protocol",
            trigger: ".o_spa_consent_text:contains(upper-back release)",
        },
        {
            content: "They agree and open the signing dialog",
            trigger: "button.o_spa_consent_sign",
            run: "click",
        },
        {
            content: "They sign with a finger on the pad",
            trigger: ".modal.show canvas",
            run: drawSignature,
        },
        {
            content: "They send the signed consent",
            trigger: ".o_portal_sign_submit:enabled",
            run: "click",
        },
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
