import {Component, onMounted, onPatched, useState} from "@odoo/owl";
import {browser} from "@web/core/browser/browser";
import {_t} from "@web/core/l10n/translation";
import {useService} from "@web/core/utils/hooks";
import {CheckinPanel} from "./checkin_panel";
import {
  consentBadgeClass,
  formatDeviceTime,
  formatTime,
  progressText,
  stateBadgeClass,
} from "./session_format";
import {applyLocally} from "./session_payload";

const ADJUSTMENTS = ["adjust_angle", "adjust_direction", "adjust_lighter_pressure"];

/**
 * One session on the tablet: start (with the consent the server checked),
 * the checklist one tap per step, check-ins, the stop decision and completion.
 *
 * It holds no copy of the session rules: what blocks completion
 * (`completion_blocker_lines`, `can_complete`), the progress
 * (`progress`), whether the stop rule is triggered (`is_stop_triggered`),
 * which pain levels trigger it (`stop_pain_levels`) and whether the consent is
 * valid (`consent_status`) all come from the server's payload. Ticks, skips,
 * records and check-ins go through the offline queue service; starting,
 * completing and stopping are asked of the server by the runner (`onAction`).
 *
 * Only the current step (the first one still to do, in the protocol's order)
 * can be tapped; a refusal is shown where the tap happened: at the step, in
 * the start card, in the footer or in the stop overlay.
 */
export class SessionChecklist extends Component {
  static template = "spa_session_protocol.SessionChecklist";
  static components = {CheckinPanel};
  static props = {
    session: Object,
    busy: Boolean,
    fromCache: Boolean,
    onAction: Function,
    onOpenConsent: Function,
  };

  setup() {
    this.queue = useService("spa_session_protocol.offline_queue");
    this.queueState = useState(this.queue.state);
    this.adjustments = ADJUSTMENTS;
    this.state = useState({
      checkin: null,
      skipping: null,
      skipReason: "",
      // The stop decision shown in the runner's overlay: null, or
      // { kind: "checkin", level, stopRequested, regionId, stepId }
      // (a check-in that triggers the stop rule) or { kind: "manual" }.
      stopDecision: null,
      stopDismissed: false,
      // The server's answer to the last start/complete/stop, shown
      // beside the button that asked: { action, message }.
      actionError: null,
    });
    // The therapist lands on the step to do.
    onMounted(() => this.showCurrentStep("center"));
    // A refusal appears where the tap happened: bring it into view.
    onPatched(() => {
      const el = document.querySelector(
        ".o_spa_runner .o_spa_inline_error:not(.o_spa_seen), .o_spa_stop_overlay .o_spa_inline_error:not(.o_spa_seen)"
      );
      if (el) {
        el.classList.add("o_spa_seen");
        el.scrollIntoView?.({block: "nearest"});
      }
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

  get sessionRefused() {
    return this.queueState.items.filter(
      (item) => item.status === "refused" && item.session_id === this.session.id
    );
  }

  get isRunning() {
    return this.session.state === "in_progress";
  }

  get isFinished() {
    return ["done", "stopped", "cancelled"].includes(this.session.state);
  }

  /**
   * The step the therapist is on: while running, the first one still to do
   * (every earlier one is done or skipped); before the start, the first
   * step (shown, not tappable); after the end, none.
   */
  get currentStep() {
    if (this.isRunning) {
      return this.session.steps.find((step) => step.state === "todo");
    }
    if (this.session.state === "draft") {
      return this.session.steps[0];
    }
    return undefined;
  }

  /** Whether the stop rule holds: the server's answer or a queued check-in's. */
  get stopTriggered() {
    return (
      this.session.is_stop_triggered ||
      this.session.checkins.some(
        (c) => c.pending && this.triggersStop(c.pain_level, c.stop_requested)
      )
    );
  }

  get showStopOverlay() {
    return (
      this.isRunning &&
      (Boolean(this.state.stopDecision) ||
        (this.stopTriggered && !this.state.stopDismissed))
    );
  }

  /** What the overlay asks: a check-in's stop, the stop rule, or a plain stop. */
  get stopKind() {
    const kind = this.state.stopDecision?.kind;
    if (kind === "checkin" || kind === "refused") {
      return kind;
    }
    return this.stopTriggered ? "triggered" : "manual";
  }

  /** Why the overlay asks to stop, in the server's figures. */
  get stopWhy() {
    const decision = this.state.stopDecision;
    switch (this.stopKind) {
      case "checkin":
        return decision.stopRequested
          ? _t("The client wants to stop.")
          : _t("Pain %(pain)s/10 is at or above the stop threshold (%(threshold)s).", {
              pain: decision.level,
              threshold: this.session.pain_stop_threshold,
            });
      case "triggered":
        return _t(
          "A check-in triggered the stop rule: the session can only be stopped."
        );
      case "manual":
        return _t("The session ends now as stopped and cannot be resumed. Why?");
      default:
        return "";
    }
  }

  get canComplete() {
    return (
      this.isRunning &&
      this.session.can_complete &&
      !this.stopTriggered &&
      !this.sessionPending.length &&
      this.queueState.online &&
      !this.props.busy
    );
  }

  get consentOk() {
    return this.session.consent_status === "valid";
  }

  /** Whether the server's intake rule lets the session start. */
  get intakeOk() {
    return (
      !this.session.intake_status ||
      ["valid", "caution"].includes(this.session.intake_status)
    );
  }

  get canStart() {
    return this.consentOk && this.intakeOk && !this.props.busy;
  }

  /** "5/7 steps · 2/2 check-ins": the server's counts, with queued work on top. */
  get progress() {
    return this.session.progress || null;
  }

  get progressText() {
    return progressText(this.progress);
  }

  get blockerLines() {
    const lines = this.session.completion_blocker_lines;
    if (lines) {
      return lines;
    }
    return this.session.completion_blockers ? [this.session.completion_blockers] : [];
  }

  get skipReasons() {
    return [_t("Not needed"), _t("Client declined"), _t("Not suitable today")];
  }

  /** The check-ins, newest first, with the name of the step each follows. */
  get checkins() {
    const names = Object.fromEntries(this.session.steps.map((s) => [s.id, s.name]));
    const refused = this.sessionRefused
      .filter((item) => item.kind === "checkin")
      .map((item) => ({
        uuid: item.uuid,
        step_id: item.step_id || false,
        pain_level: item.pain_level,
        stop_requested: item.stop_requested,
        region_id: item.region_id || false,
        device_at: item.device_at,
        refused: true,
        error: item.error,
      }));
    const regions = Object.fromEntries(
      (this.session.body_regions || []).map((r) => [r.id, r.name])
    );
    return [...this.session.checkins, ...refused]
      .map((checkin) => ({
        ...checkin,
        key: checkin.uuid || `id${checkin.id}`,
        step_name: names[checkin.step_id] || "",
        region_label: checkin.region_name || regions[checkin.region_id] || "",
      }))
      .reverse();
  }

  formatTime(value) {
    return formatTime(value);
  }

  formatDeviceTime(value) {
    return formatDeviceTime(value);
  }

  consentBadgeClass(status) {
    return consentBadgeClass(status);
  }

  stateBadgeClass(state) {
    return stateBadgeClass(state);
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

  painClass(level) {
    if ((this.session.stop_pain_levels || []).includes(level)) {
      return "text-bg-danger";
    }
    return level >= 4 ? "text-bg-warning" : "text-bg-success";
  }

  stepCardClass(step) {
    const classes = [`o_spa_step_${step.state}`];
    if (this.isRunning && step === this.currentStep) {
      classes.push("o_spa_step_current");
    } else if (step.state === "todo") {
      classes.push(this.isFinished ? "o_spa_step_not_done" : "o_spa_step_upcoming");
    }
    if (step.pending) {
      classes.push("o_spa_step_pending");
    }
    return classes.join(" ");
  }

  /** Whether the step's instructions are shown: the current step's only. */
  showInstructions(step) {
    return Boolean(step.instructions) && step === this.currentStep;
  }

  /**
   * Why the current step cannot be ticked yet (its Done stays inactive), or
   * "": the server's own words where it said them (rule 8), else what the
   * step asks to record first.
   */
  tickWait(step) {
    if (this.stopTriggered) {
      return _t("A check-in triggered the stop rule: the session can only be stopped.");
    }
    if (step.region_warning) {
      return step.region_warning;
    }
    if (step.record_kind === "positioning" && !this.session.positioning) {
      return _t("Record the client's positioning first.");
    }
    if (
      step.record_kind === "adjustment" &&
      !ADJUSTMENTS.some((field) => this.session[field]) &&
      !(this.session.adjustment_note || "").trim()
    ) {
      return _t("Record what you changed first (or skip the step).");
    }
    return "";
  }

  /** Whether Done is active: the current step, nothing to record first. */
  canTick(step) {
    return (
      this.isRunning &&
      step === this.currentStep &&
      !step.pending &&
      !this.tickWait(step)
    );
  }

  canSkip(step) {
    return (
      this.isRunning &&
      step === this.currentStep &&
      !step.is_mandatory &&
      !step.pending &&
      !this.stopTriggered
    );
  }

  /** The queued items the server refused that were tapped at this step. */
  stepRefusals(step) {
    return this.sessionRefused.filter((item) => this.refusalStepId(item) === step.id);
  }

  /** The refusals tapped outside any step (check-ins from the footer). */
  get footerRefusals() {
    return this.sessionRefused.filter((item) => !this.refusalStepId(item));
  }

  refusalStepId(item) {
    if (item.step_id) {
      return item.step_id;
    }
    if (item.kind === "record") {
      const kind = "positioning" in (item.values || {}) ? "positioning" : "adjustment";
      return this.session.steps.find((s) => s.record_kind === kind)?.id || false;
    }
    return false;
  }

  refusalLabel(item) {
    switch (item.kind) {
      case "tick":
        return _t("Not ticked:");
      case "skip":
        return _t("Not skipped:");
      case "checkin":
        return _t("Check-in (pain %(pain)s/10) not logged:", {pain: item.pain_level});
      default:
        return _t("Not recorded:");
    }
  }

  dismissRefusal(item) {
    this.queue.dismiss(item.uuid);
  }

  needsCheckin(step) {
    return (
      this.isRunning &&
      step.state === "done" &&
      step.requires_checkin &&
      !step.checkin_count &&
      !this.stopTriggered
    );
  }

  adjustmentLabel(field) {
    return {
      adjust_angle: _t("Changed angle"),
      adjust_direction: _t("Changed direction"),
      adjust_lighter_pressure: _t("Lighter pressure"),
    }[field];
  }

  /** Record chips are live on the current step; elsewhere they only show. */
  chipsLive(step) {
    return this.isRunning && step === this.currentStep && !this.stopTriggered;
  }

  actionError(action) {
    const error = this.state.actionError;
    return error && error.action === action ? error.message : "";
  }

  /** After a tick or skip: the next step, once rendered. */
  showNextStep() {
    browser.requestAnimationFrame(() => this.showCurrentStep());
  }

  /** Scroll the current step into view (above the sticky footer). */
  showCurrentStep(block = "nearest") {
    if (!this.isRunning) {
      return;
    }
    const el = document.querySelector(".o_spa_runner .o_spa_step_current");
    el?.scrollIntoView?.({block});
  }

  // ------------------------------------------------------------------
  // Queue
  // ------------------------------------------------------------------

  /** Queue an operation, show it at once, and send what is queued. */
  enqueue(op) {
    const item = this.queue.add({session_id: this.session.id, ...op});
    applyLocally(this.session, item);
    return {item, flushed: this.queue.flush()};
  }

  isRefused(item) {
    return this.queue.refused(this.session.id).some((i) => i.uuid === item.uuid);
  }

  // ------------------------------------------------------------------
  // Checklist
  // ------------------------------------------------------------------

  async tick(step) {
    if (!this.canTick(step)) {
      return;
    }
    this.state.skipping = null;
    const {item, flushed} = this.enqueue({kind: "tick", step_id: step.id});
    await flushed;
    // The check-in it asks for, unless the server refused the tick.
    if (step.requires_checkin && !this.isRefused(item)) {
      this.state.checkin = {stepId: step.id, stepName: step.name};
    }
    this.showNextStep();
  }

  /** Adapt the technique: the step will not touch `region`. */
  removeRegion(step, region) {
    if (!this.isRunning || step.state !== "todo") {
      return;
    }
    return this.enqueue({
      kind: "regions",
      step_id: step.id,
      region_ids: step.touched_regions
        .filter((r) => r.id !== region.id)
        .map((r) => r.id),
    }).flushed;
  }

  startSkip(step) {
    if (!this.canSkip(step)) {
      return;
    }
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
    await this.enqueue({kind: "skip", step_id: step.id, reason: reason.trim()}).flushed;
    this.showNextStep();
  }

  async setPositioning(step, value) {
    if (this.chipsLive(step) && this.session.positioning !== value) {
      await this.enqueue({kind: "record", values: {positioning: value}}).flushed;
    }
  }

  async toggleAdjustment(step, field) {
    if (this.chipsLive(step)) {
      await this.enqueue({kind: "record", values: {[field]: !this.session[field]}})
        .flushed;
    }
  }

  async saveAdjustmentNote(step, ev) {
    const note = ev.target.value;
    if (this.chipsLive(step) && note !== this.session.adjustment_note) {
      await this.enqueue({kind: "record", values: {adjustment_note: note}}).flushed;
    }
  }

  // ------------------------------------------------------------------
  // Check-ins
  // ------------------------------------------------------------------

  openCheckin(step = null) {
    this.state.checkin = {stepId: step?.id || false, stepName: step?.name || ""};
  }

  closeCheckin() {
    this.state.checkin = null;
  }

  /** Whether a check-in would trigger the stop rule: the server's levels. */
  triggersStop(level, stopRequested) {
    return stopRequested || (this.session.stop_pain_levels || []).includes(level);
  }

  /**
   * One tap logs the check-in; one that triggers the stop rule asks one
   * decision first, in the runner's own overlay: log it and stop.
   */
  async pickPain(level, stopRequested = false, regionId = false) {
    const checkin = this.state.checkin;
    if (this.triggersStop(level, stopRequested)) {
      this.state.actionError = null;
      this.state.stopDecision = {
        kind: "checkin",
        level,
        stopRequested,
        regionId,
        stepId: checkin?.stepId || false,
      };
      return;
    }
    this.state.checkin = null;
    await this.enqueue(this.checkinOp(checkin?.stepId, level, stopRequested, regionId))
      .flushed;
  }

  checkinOp(stepId, level, stopRequested, regionId) {
    return {
      kind: "checkin",
      step_id: stepId || false,
      pain_level: level,
      stop_requested: stopRequested,
      region_id: regionId || false,
    };
  }

  // ------------------------------------------------------------------
  // Session transitions (online: the server decides)
  // ------------------------------------------------------------------

  /**
   * Ask the runner to start, complete or stop; a refusal is kept to be
   * shown beside the button that asked.
   */
  async runAction(action, params = {}) {
    this.state.actionError = null;
    const result = await this.props.onAction(action, params);
    if (result === true || result?.ok) {
      return true;
    }
    this.state.actionError = {
      action,
      message: result?.error || _t("The server did not answer."),
    };
    return false;
  }

  startSession() {
    if (!this.canStart) {
      return;
    }
    return this.runAction("start");
  }

  completeSession() {
    return this.runAction("done");
  }

  /** The footer's Stop: the runner's overlay, one decision. */
  askStop() {
    this.state.actionError = null;
    this.state.stopDismissed = false;
    this.state.stopDecision = this.stopTriggered ? null : {kind: "manual"};
  }

  closeStop() {
    const decision = this.state.stopDecision;
    this.state.stopDecision = null;
    this.state.actionError = null;
    if (!decision) {
      this.state.stopDismissed = true;
    }
  }

  /**
   * The one decision of the stop rule: log the check-in that triggers it,
   * then stop the session (the server sets the reason and the referral).
   */
  async confirmStop(reason = null) {
    const decision = this.state.stopDecision;
    if (decision?.kind === "checkin") {
      const {item, flushed} = this.enqueue(
        this.checkinOp(
          decision.stepId,
          decision.level,
          decision.stopRequested,
          decision.regionId
        )
      );
      this.state.checkin = null;
      this.state.stopDecision = null;
      await flushed;
      if (this.isRefused(item)) {
        this.state.stopDecision = {kind: "refused"};
        this.state.actionError = {
          action: "stop",
          message: this.queue.refused(this.session.id).find((i) => i.uuid === item.uuid)
            .error,
        };
        return;
      }
    }
    const ok = await this.runAction("stop", reason ? {reason} : {});
    if (ok) {
      this.state.stopDecision = null;
    }
  }
}
