import { Component } from "@odoo/owl";

/**
 * A feedback check-in in one tap: a 0-10 pain scale of big buttons and a
 * prominent "client wants to stop" button. The levels that trigger the stop
 * rule come from the server (`stopLevels`).
 */
export class CheckinPanel extends Component {
    static template = "spa_session_protocol.CheckinPanel";
    static props = {
        stepName: { type: String, optional: true },
        stopLevels: { type: Array, element: Number },
        onPick: Function,
        onClose: Function,
    };

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
