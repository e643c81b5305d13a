import {Component} from "@odoo/owl";
import {_t} from "@web/core/l10n/translation";
import {
  consentBadgeClass,
  formatTime,
  progressText,
  stateBadgeClass,
} from "./session_format";

/**
 * The therapist's sessions of the day, with the consent badge the server
 * computed for each appointment.
 */
export class SessionList extends Component {
  static template = "spa_session_protocol.SessionList";
  static props = {
    sessions: Array,
    loading: Boolean,
    onOpen: Function,
  };

  formatTime(value) {
    return formatTime(value);
  }

  consentBadgeClass(status) {
    return consentBadgeClass(status);
  }

  progressText(item) {
    return progressText(item.progress);
  }

  stateBadgeClass(state) {
    return stateBadgeClass(state);
  }

  consentLabel(item) {
    return item.consent_status_label || _t("Consent unknown");
  }
}
