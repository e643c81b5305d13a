import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("spa_evidence_anchor_now", {
  steps: () => [
    {
      content: "The manager anchors the chain now",
      trigger: "button[name='action_anchor_now']",
      run: "click",
    },
    {
      content: "The anchor is listed, with its timestamp",
      trigger: ".o_data_row .o_data_cell[name='tsa_time']:not(:empty)",
    },
  ],
});

registry.category("web_tour.tours").add("spa_evidence_export_session", {
  steps: () => [
    {
      content: "The manager exports a finished session's evidence",
      trigger: ".o_form_view button[name='action_export_evidence']",
      run: "click",
    },
    {
      content: "The export holds that session",
      trigger: ".modal .o_field_widget[name='session_count']:contains(1)",
    },
    {
      content: "Pseudonymous by default",
      trigger: ".modal .o_field_widget[name='pseudonymous'] input:checked",
    },
    {
      content: "Download is offered",
      trigger: ".modal button[name='action_export']",
    },
  ],
});
