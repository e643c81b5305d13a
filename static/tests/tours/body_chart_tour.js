import {registry} from "@web/core/registry";

const PRESSURE = "Stabilise and apply pressure";

registry.category("web_tour.tours").add("spa_tablet_body_chart", {
  url: "/odoo/spa-tablet",
  steps: () => [
    {
      content: "Open the session",
      trigger: '.o_spa_session_item:contains("Clara Client")',
      run: "click",
    },
    {
      content: "The step touches a sensitive region",
      trigger: `.o_spa_step:contains("${PRESSURE}") .o_spa_step_region.text-bg-warning:contains("Buttocks")`,
    },
    {
      content:
        "Adapt the technique: no buttocks, the verbal consent does not cover them",
      trigger: `.o_spa_step:contains("${PRESSURE}") .o_spa_step_region:contains("Buttocks") .o_spa_region_remove`,
      run: "click",
    },
    {
      content: "Only the upper back is left",
      trigger: `.o_spa_step:contains("${PRESSURE}"):not(:has(.o_spa_step_region:contains("Buttocks"))) .o_spa_step_region:contains("Upper back")`,
    },
    {
      content: "Everything is sent",
      trigger: ".o_spa_topbar:not(:has(.o_spa_pending_badge)) .o_spa_online",
    },
    {
      content: `Tick '${PRESSURE}'`,
      trigger: `.o_spa_step:contains("${PRESSURE}") .o_spa_tick`,
      run: "click",
    },
    {
      content: "The runner asks for a check-in",
      trigger: ".o_spa_checkin_overlay .o_spa_body_chart",
    },
    {
      content: "Tap the upper back on the chart",
      trigger:
        ".o_spa_body_svg[data-side='back'] .o_spa_region[data-region='upper_back']",
      run: "click",
    },
    {
      content: "The region is selected",
      trigger: ".o_spa_region_selected[data-region='upper_back']",
    },
    {content: "It is named", trigger: ".o_spa_checkin_region:contains('Upper back')"},
    {content: "Pain 3", trigger: ".o_spa_pain[data-pain='3']", run: "click"},
    {content: "Check-in logged", trigger: "body:not(:has(.o_spa_checkin_overlay))"},
    {
      content: "Everything is sent",
      trigger: ".o_spa_topbar:not(:has(.o_spa_pending_badge)) .o_spa_online",
    },
    {
      content: `'${PRESSURE}' is done`,
      trigger: `.o_spa_step.o_spa_step_done:contains("${PRESSURE}")`,
    },
  ],
});
