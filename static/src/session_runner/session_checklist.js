import { Component, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { CheckinPanel } from "./checkin_panel";
import { consentBadgeClass, formatTime } from "./session_format";
import { applyLocally } from "./session_payload";

const ADJUSTMENTS = ["adjust_angle", "adjust_direction", "adjust_lighter_pressure"];

/**
 * One session on the tablet: start (with the consent the server checked),
 * the checklist one tap per step, check-ins, the stop panel and completion.
 *
 * It holds no copy of the session rules: what blocks completion
 * (`completion_blockers`, `can_complete`), whether the stop rule is
 * triggered (`is_stop_triggered`), which pain levels trigger it
 * (`stop_pain_levels`) and whether the consent is valid (`consent_status`)
 * all come from the server's payload. Ticks, skips, records and check-ins go
 * through the offline queue service; starting, completing and stopping are
 * asked of the server by the runner (`onAction`).
 */
export class SessionChecklist extends Component {
    static template = "spa_session_protocol.SessionChecklist";
    static components = { CheckinPanel };
    static props = {
        session: Object,
        busy: Boolean,
        fromCache: Boolean,
        onAction: Function,
        onOpenConsent: Function,
    };

    setup() {
        this.dialog = useService("dialog");
        this.queue = useService("spa_session_protocol.offline_queue");
        this.queueState = useState(this.queue.state);
        this.adjustments = ADJUSTMENTS;
        this.state = useState({
            checkin: null,
            skipping: null,
            skipReason: "",
            stopPrompt: false,
        });
    }

    // ------------------------------------------------------------------
    // Getters
    // ------------------------------------------------------------------

    get session() {
        return this.props.session;
    }

    get sessionPending() {
        return this.queueState.items.filter(
            (item) => item.status === "pending" && item.session_id === this.session.id
        );
    }

    get currentStep() {
        return this.session.steps.find((step) => step.state === "todo");
    }

    get isRunning() {
        return this.session.state === "in_progress";
    }

    get showStopPanel() {
        return this.isRunning && (this.state.stopPrompt || this.session.is_stop_triggered);
    }

    get canComplete() {
        return (
            this.isRunning &&
            this.session.can_complete &&
            !this.session.is_stop_triggered &&
            !this.sessionPending.length &&
            this.queueState.online &&
            !this.props.busy
        );
    }

    get consentOk() {
        return this.session.consent_status === "valid";
    }

    get skipReasons() {
        return [_t("Not needed"), _t("Client declined"), _t("Not suitable today")];
    }

    formatTime(value) {
        return formatTime(value);
    }

    consentBadgeClass(status) {
        return consentBadgeClass(status);
    }

    intakeBadgeClass(status) {
        if (status === "valid") {
            return "text-bg-success";
        }
        return status === "caution" ? "text-bg-warning" : "text-bg-danger";
    }

    consentLabel(item) {
        return item.consent_status_label || _t("Consent unknown");
    }

    stepCardClass(step) {
        const classes = [`o_spa_step_${step.state}`];
        if (step === this.currentStep) {
            classes.push("o_spa_step_current");
        }
        if (step.pending) {
            classes.push("o_spa_step_pending");
        }
        return classes.join(" ");
    }

    needsCheckin(step) {
        return (
            this.isRunning && step.state === "done" && step.requires_checkin && !step.checkin_count
        );
    }

    adjustmentLabel(field) {
        return {
            adjust_angle: _t("Changed angle"),
            adjust_direction: _t("Changed direction"),
            adjust_lighter_pressure: _t("Lighter pressure"),
        }[field];
    }

    // ------------------------------------------------------------------
    // Queue
    // ------------------------------------------------------------------

    /** Queue an operation, show it at once, and send what is queued. */
    enqueue(op) {
        const item = this.queue.add({ session_id: this.session.id, ...op });
        applyLocally(this.session, item);
        return this.queue.flush();
    }

    // ------------------------------------------------------------------
    // Checklist
    // ------------------------------------------------------------------

    async tick(step) {
        if (!this.isRunning || step.state !== "todo") {
            return;
        }
        this.state.skipping = null;
        const flushed = this.enqueue({ kind: "tick", step_id: step.id });
        if (step.requires_checkin) {
            this.state.checkin = { stepId: step.id, stepName: step.name };
        }
        await flushed;
    }

    /** Adapt the technique: the step will not touch `region`. */
    removeRegion(step, region) {
        if (!this.isRunning || step.state !== "todo") {
            return;
        }
        return this.enqueue({
            kind: "regions",
            step_id: step.id,
            region_ids: step.touched_regions.filter((r) => r.id !== region.id).map((r) => r.id),
        });
    }

    startSkip(step) {
        this.state.skipping = step.id;
        this.state.skipReason = "";
    }

    cancelSkip() {
        this.state.skipping = null;
    }

    async confirmSkip(step, reason = this.state.skipReason) {
        if (!reason.trim()) {
            return;
        }
        this.state.skipping = null;
        await this.enqueue({ kind: "skip", step_id: step.id, reason: reason.trim() });
    }

    async setPositioning(value) {
        if (this.isRunning && this.session.positioning !== value) {
            await this.enqueue({ kind: "record", values: { positioning: value } });
        }
    }

    async toggleAdjustment(field) {
        if (this.isRunning) {
            await this.enqueue({ kind: "record", values: { [field]: !this.session[field] } });
        }
    }

    async saveAdjustmentNote(ev) {
        const note = ev.target.value;
        if (this.isRunning && note !== this.session.adjustment_note) {
            await this.enqueue({ kind: "record", values: { adjustment_note: note } });
        }
    }

    // ------------------------------------------------------------------
    // Check-ins
    // ------------------------------------------------------------------

    openCheckin(step = null) {
        this.state.checkin = { stepId: step?.id || false, stepName: step?.name || "" };
    }

    closeCheckin() {
        this.state.checkin = null;
    }

    /** Whether a check-in would trigger the stop rule: the server's levels. */
    triggersStop(level, stopRequested) {
        return stopRequested || (this.session.stop_pain_levels || []).includes(level);
    }

    /**
     * One tap logs the check-in; one that triggers the stop rule is
     * confirmed first, then leads straight to stopping.
     */
    async pickPain(level, stopRequested = false, regionId = false) {
        const checkin = this.state.checkin;
        const triggers = this.triggersStop(level, stopRequested);
        if (triggers) {
            const confirmed = await new Promise((resolve) => {
                this.dialog.add(
                    ConfirmationDialog,
                    {
                        title: _t("This check-in stops the session"),
                        body: stopRequested
                            ? _t(
                                  "The client wants to stop. The session will have to be stopped and a healthcare professional recommended. Log it?"
                              )
                            : _t(
                                  "Pain %(pain)s/10 is at or above the stop threshold (%(threshold)s). The session will have to be stopped and a healthcare professional recommended. Log it?",
                                  { pain: level, threshold: this.session.pain_stop_threshold }
                              ),
                        confirmLabel: _t("Log and stop"),
                        confirmClass: "btn-danger",
                        confirm: () => resolve(true),
                        cancel: () => resolve(false),
                    },
                    { onClose: () => resolve(false) }
                );
            });
            if (!confirmed) {
                return;
            }
        }
        this.state.checkin = null;
        if (triggers) {
            this.state.stopPrompt = true;
        }
        await this.enqueue({
            kind: "checkin",
            step_id: checkin?.stepId || false,
            pain_level: level,
            stop_requested: stopRequested,
            region_id: regionId || false,
        });
    }

    // ------------------------------------------------------------------
    // Session transitions (online: the server decides)
    // ------------------------------------------------------------------

    async runAction(action) {
        const ok = await this.props.onAction(action);
        if (ok) {
            this.state.stopPrompt = false;
        }
    }

    startSession() {
        return this.runAction("start");
    }

    completeSession() {
        return this.runAction("done");
    }

    stopSession() {
        this.dialog.add(ConfirmationDialog, {
            title: _t("Stop the session"),
            body: _t("The session ends now as stopped and cannot be resumed."),
            confirmLabel: _t("Stop session"),
            confirmClass: "btn-danger",
            confirm: () => this.runAction("stop"),
            cancel: () => {},
        });
    }
}
