import {Component, useState} from "@odoo/owl";
import {BodyChart} from "./body_chart";

/**
 * A feedback check-in in one tap: a 0-10 pain scale of big buttons and a
 * prominent "client wants to stop" button. The levels that trigger the stop
 * rule come from the server (`stopLevels`). Before that, the therapist may
 * tap where the client feels it on the body chart (`regions`).
 */
export class CheckinPanel extends Component {
  static template = "spa_session_protocol.CheckinPanel";
  static components = {BodyChart};
  static props = {
    stepName: {type: String, optional: true},
    stopLevels: {type: Array, element: Number},
    regions: {type: Array, element: Object, optional: true},
    onPick: Function,
    onClose: Function,
  };

  setup() {
    this.state = useState({regionId: false});
  }

  get selectedRegion() {
    return (this.props.regions || []).find((r) => r.id === this.state.regionId);
  }

  selectRegion(regionId) {
    this.state.regionId = regionId;
  }

  pick(level, stopRequested) {
    this.props.onPick(level, stopRequested, this.state.regionId || false);
  }

  get levels() {
    return [...Array(11).keys()];
  }

  levelClass(level) {
    if (this.props.stopLevels.includes(level)) {
      return "o_spa_pain_severe";
    }
    return level >= 4 ? "o_spa_pain_moderate" : "o_spa_pain_mild";
  }
}
