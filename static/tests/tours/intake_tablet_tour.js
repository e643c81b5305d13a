import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("spa_tablet_intake_caution", {
  url: "/odoo/spa-tablet",
  steps: () => [
    {
      content: "Open the session of the client with a caution",
      trigger: '.o_spa_session_item:contains("Carl Client")',
      run: "click",
    },
    {
      content: "The first screen shows the intake's caution badge",
      trigger: ".o_spa_intake_badge.text-bg-warning",
    },
    {
      content: "and the answer to take care of, before starting",
      trigger:
        ".o_spa_intake_cautions .o_spa_intake_caution:contains(allergic):contains(Yes)",
    },
    {
      content: "The session can start: a caution does not block",
      trigger: ".o_spa_start_button:enabled",
      run: "click",
    },
    {content: "Started", trigger: ".o_spa_footer .o_spa_blockers_text"},
    {
      content: "The caution stays on the screen while the session runs",
      trigger: ".o_spa_intake_cautions .o_spa_intake_caution:contains(allergic)",
    },
  ],
});
