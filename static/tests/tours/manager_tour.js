import {registry} from "@web/core/registry";

const {DateTime} = luxon;

/** The compliance graph's series, as Chart.js draws them: {label: colour}. */
function chartColors() {
  const canvas = document.querySelector(".o_graph_renderer canvas");
  const chart = canvas && window.Chart?.getChart(canvas);
  if (!chart) {
    throw new Error("The compliance graph is not drawn");
  }
  return Object.fromEntries(
    chart.data.datasets.map((dataset) => [dataset.label, dataset.backgroundColor])
  );
}

/** Spa › Compliance › ``menu`` (the menu's xml id), as the manager clicks. */
function openCompliance(menu, label) {
  return [
    {
      content: "Open the Compliance menu",
      trigger:
        ".o_menu_sections button[data-menu-xmlid='spa_session_protocol.spa_compliance_report_menu']",
      run: "click",
    },
    {
      content: `Open ${label}`,
      trigger: `.dropdown-item[data-menu-xmlid='spa_session_protocol.${menu}']`,
      run: "click",
    },
  ];
}

const readPivot = [
  {
    content: "The rate says what it is over",
    trigger: ".o_pivot th:contains('Compliance Rate, Finished Sessions (%)')",
  },
  {
    content: "Pending sessions are a measure of their own",
    trigger: ".o_pivot th.o_pivot_measure_row:contains('Pending')",
  },
  {
    content: "One finished session of three, compliant: 100 %, not 0.00",
    trigger: ".o_pivot tr:has(th:contains('Rita Rate')) td:contains('100.0 %')",
  },
];

const readGraph = [
  {
    content: "Switch to the graph",
    trigger: ".o_switch_view.o_graph",
    run: "click",
  },
  {
    content: "The compliance graph is drawn",
    trigger: ".o_graph_renderer canvas",
  },
];

registry.category("web_tour.tours").add("spa_manager_reading", {
  steps: () => [
    ...readPivot,
    ...readGraph,
    {
      content: "Compliant in green, non-compliant in red, pending in amber",
      trigger: ".o_graph_renderer canvas",
      run() {
        const colors = chartColors();
        const expected = {
          Compliant: "#28A745",
          "Non-compliant": "#DC3545",
          Pending: "#F4A261",
        };
        for (const [label, color] of Object.entries(expected)) {
          if (colors[label] !== color) {
            throw new Error(
              `${label} is drawn ${colors[label]}, not ${color}: ${JSON.stringify(colors)}`
            );
          }
        }
      },
    },
    ...openCompliance("spa_session_refusal_menu", "Blocked Attempts"),
    {
      content: "No sample data: a real empty state that says what is logged",
      trigger:
        ".o_action:not(:has(.o_view_sample_data)) .o_view_nocontent:contains('No blocked attempt'):contains('tick a step against the protocol')",
    },
    ...openCompliance("spa_compliance_summary_wizard_menu", "the summary report"),
    {
      content: "The summary covers the last 30 days by default",
      trigger: ".modal .o_field_widget[name='date_from'] input",
      run() {
        const expected = DateTime.now().minus({days: 29}).toFormat("MM/dd/yyyy");
        if (this.anchor.value !== expected) {
          throw new Error(`From is ${this.anchor.value}, not ${expected}`);
        }
      },
    },
    {
      content: "Print",
      trigger: ".modal button[name='action_print']",
      run: "click",
    },
    {
      content: "The wizard closes once the PDF is downloaded; the list stays",
      trigger:
        "body:not(:has(.modal)) .o_action .o_view_nocontent:contains('No blocked attempt')",
      timeout: 60000,
    },
  ],
});

// Screens for review (scripts/screenshots): each tour ends on the screen.
registry.category("web_tour.tours").add("spa_manager_shot_analysis", {
  steps: () => [...readPivot],
});

registry.category("web_tour.tours").add("spa_manager_shot_graph", {
  steps: () => [
    ...readGraph,
    {
      content: "Wait for the chart's animation to end",
      trigger: ".o_graph_renderer canvas",
      async run() {
        chartColors();
        await new Promise((resolve) => setTimeout(resolve, 1200));
      },
    },
  ],
});

registry.category("web_tour.tours").add("spa_manager_shot_summary", {
  steps: () => [
    ...openCompliance("spa_compliance_summary_wizard_menu", "the summary report"),
    {
      content: "The summary wizard is open",
      trigger: ".modal .o_field_widget[name='date_from'] input",
    },
  ],
});
