import {registry} from "@web/core/registry";

/** Fail the tour when ``selector`` is not in the window's first screen. */
function assertAboveTheFold(selector, what) {
  const element = document.querySelector(selector);
  const box = element && element.getBoundingClientRect();
  if (!box || box.top < 0 || box.bottom > window.innerHeight) {
    throw new Error(`${what} is not in the first screen (${JSON.stringify(box)})`);
  }
}

const SPA_NEW_CLIENT = "Nina Newcomer";

registry.category("web_tour.tours").add("spa_front_desk_day", {
  steps: () => [
    // The day of every therapist, not only the front desk's own events.
    {
      content: "Theo's appointment shows, client first",
      trigger: ".o_calendar_view .fc-event .o_event_title:contains(Clara Client)",
    },
    {
      content: "Tara's appointment shows too",
      trigger: ".o_calendar_view .fc-event .o_event_title:contains(Carl Client)",
    },
    {
      content: "Filter by therapist",
      trigger: ".o_calendar_filter .o_calendar_filter_item:contains(Tara Therapist)",
    },
    {
      content: "and by room",
      trigger: ".o_calendar_filter .o_calendar_filter_item:contains(Room One)",
    },
    {
      content: "The popover says client, therapist and consent",
      trigger: ".o_calendar_view .fc-event:contains(Carl Client)",
      run: "click",
    },
    {
      content: "Client, therapist and consent state in the popover",
      trigger:
        ".o_cw_popover:contains(Carl Client):contains(Tara Therapist):contains(No consent)",
    },
    {
      content: "Close the popover",
      trigger: ".o_cw_popover .o_cw_popover_close",
      run: "click",
    },
    // Booking without typing a title.
    {
      content: "New appointment",
      trigger: ".o_control_panel .o_spa_calendar_new",
      run: "click",
    },
    {
      content: "Protocol",
      trigger: ".o_field_widget[name=spa_protocol_id] input",
      run: "edit Upper",
    },
    {
      trigger: ".o-autocomplete--dropdown-item:contains(Upper)",
      run: "click",
    },
    {
      content: "Client",
      trigger: ".o_field_widget[name=spa_client_id] input",
      run: `edit ${SPA_NEW_CLIENT}`,
    },
    {
      trigger: `.o-autocomplete--dropdown-item:contains(${SPA_NEW_CLIENT})`,
      run: "click",
    },
    {
      content: "Therapist",
      trigger: ".o_field_widget[name=spa_therapist_id] input",
      run: "edit Tara",
    },
    {
      trigger: ".o-autocomplete--dropdown-item:contains(Tara Therapist)",
      run: "click",
    },
    {
      content: "The title was filled: Protocol – Client",
      trigger: `.o_field_widget[name=name] input:value(– ${SPA_NEW_CLIENT})`,
    },
    {
      content: "Save without having typed a title",
      trigger: ".o_form_button_save",
      run: "click",
    },
    {
      content: "Saved",
      trigger: ".o_form_saved",
    },
    // The consent first.
    {
      content: "The consent badge opens the sheet",
      trigger:
        ".o_spa_consent_missing .o_field_widget[name=spa_consent_status]:contains(No consent)",
      run() {
        assertAboveTheFold(".o_spa_consent_missing", "The consent badge");
      },
    },
    {
      content:
        "The link sent on booking shows its state (sent or failed: no mail server)",
      trigger: ".o_spa_consent_missing .o_spa_consent_link_state:contains(Link)",
    },
    {
      content: "Send the link again",
      trigger: ".o_spa_consent_missing button[name=action_spa_send_consent_link]",
      run: "click",
    },
    {
      content: "A notification confirms it",
      trigger: ".o_notification:contains(Consent link sent)",
    },
    {
      content: "and the chatter says so",
      trigger: ".o-mail-Message:contains(emailed to Nina Newcomer)",
    },
    // Record the consent at the desk, the text read first.
    {
      content: "Record the consent",
      trigger: ".o_spa_consent_missing button[name=action_spa_record_consent]",
      run: "click",
    },
    {
      content: "The text is there to read before agreeing, in the first screen",
      trigger: ".modal .o_spa_consent_agreement_text:contains(I agree to receive)",
      run() {
        assertAboveTheFold(".modal .o_spa_consent_agreement_text", "The consent text");
      },
    },
    {
      content: "The client agrees to the buttocks area",
      trigger: ".modal .o_spa_consent_regions .form-check:contains(Buttocks) input",
      run: "click",
    },
    {
      content: "The area is now part of the text read",
      trigger: ".modal .o_spa_consent_agreement_text:contains(Sensitive areas)",
    },
    {
      content: "The client agrees",
      trigger: ".modal .o_spa_consent_agree",
      run: "click",
    },
    {
      content: "The badge turns valid and the old link is void",
      trigger:
        ".o_spa_consent_ok:contains(Consent valid) .o_field_widget[name=spa_consent_link_state]:contains(void)",
    },
    {
      content: "The chatter says who recorded it",
      trigger: ".o-mail-Message:contains(recorded at the desk)",
    },
    {
      content: "Back to the day",
      trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb li.breadcrumb-item a",
      run: "click",
    },
    {
      content: "The new appointment is in the day, client first",
      trigger: `.o_calendar_view .fc-event .o_event_title:contains(${SPA_NEW_CLIENT})`,
    },
  ],
});

// Screens for scripts/screenshots: each tour ends on the screen to capture.
registry.category("web_tour.tours").add("spa_fd_shot_calendar", {
  steps: () => [
    {
      trigger: ".o_calendar_view .fc-event .o_event_title:contains(Carl Client)",
    },
  ],
});

registry.category("web_tour.tours").add("spa_fd_shot_appointment", {
  steps: () => [
    {
      trigger: ".o_form_view .o_spa_consent_missing .o_spa_consent_link_state",
    },
  ],
});

registry.category("web_tour.tours").add("spa_fd_shot_consent", {
  steps: () => [
    {
      trigger: ".o_spa_consent_missing button[name=action_spa_record_consent]",
      run: "click",
    },
    {
      content: "The text to read is in the dialog's first screen",
      trigger: ".modal .o_spa_consent_agreement_text:contains(I agree to receive)",
      run() {
        assertAboveTheFold(".modal .o_spa_consent_agreement_text", "The consent text");
      },
    },
    {
      content: "Leave the button (its tooltip would hide the dialog)",
      trigger: ".modal .modal-title",
      run: "hover",
    },
  ],
});
