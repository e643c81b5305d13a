import { Component, onMounted, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { useService } from "@web/core/utils/hooks";
import { CheckinPanel } from "./checkin_panel";
import { ConsentPad } from "./consent_pad";
import { OfflineQueue } from "./offline_queue";
import { isOfflineError, tabletApi } from "./tablet_api";

const RETRY_DELAY = 15000;
const ADJUSTMENTS = ["adjust_angle", "adjust_direction", "adjust_lighter_pressure"];

/**
 * The therapist's tablet runner: today's sessions, the checklist one tap per
 * step, check-ins in one or two taps, and consent signed on the tablet.
 *
 * It holds no copy of the session rules: what blocks completion, whether the
 * stop rule is triggered and whether a tick is allowed all come from the
 * server. Ticks, skips, records and check-ins are queued on the device and
 * sent in order; they survive a lost network and are replayed safely.
 */
export class SessionRunner extends Component {
    static template = "spa_session_protocol.SessionRunner";
    static components = { CheckinPanel, ConsentPad };
    static props = ["*"];

    setup() {
        this.dialog = useService("dialog");
        this.notification = useService("notification");
        this.queue = new OfflineQueue(`spa_session_protocol.queue.${user.userId}`);
        this.adjustments = ADJUSTMENTS;
        this.state = useState({
            screen: "list",
            sessions: [],
            session: null,
            consent: null,
            consentFor: null,
            consentDone: false,
            queue: this.queue.items,
            online: browser.navigator.onLine !== false,
            loading: false,
            busy: false,
            error: false,
            checkin: null,
            skipping: null,
            skipReason: "",
            stopPrompt: false,
            fromCache: false,
        });
        const context = this.props.action?.context || {};
        onWillStart(async () => {
            if (
                context.spa_mode === "consent" &&
                (context.spa_event_id || context.spa_session_id)
            ) {
                await this.openConsent({
                    eventId: context.spa_event_id,
                    sessionId: context.spa_session_id,
                    standalone: true,
                });
            } else if (context.spa_session_id) {
                await this.openSession(context.spa_session_id);
            } else {
                await this.loadSessions();
            }
        });
        this.onOnline = () => {
            this.state.online = true;
            this.flush();
        };
        this.onOffline = () => {
            this.state.online = false;
        };
        onMounted(() => {
            browser.addEventListener("online", this.onOnline);
            browser.addEventListener("offline", this.onOffline);
            this.retryInterval = browser.setInterval(() => {
                if (this.queue.pending().length) {
                    this.flush();
                }
            }, RETRY_DELAY);
            this.flush();
        });
        onWillUnmount(() => {
            browser.removeEventListener("online", this.onOnline);
            browser.removeEventListener("offline", this.onOffline);
            browser.clearInterval(this.retryInterval);
        });
    }

    // ------------------------------------------------------------------
    // Getters
    // ------------------------------------------------------------------

    get session() {
        return this.state.session;
    }

    get pendingItems() {
        return this.state.queue.filter((item) => item.status === "pending");
    }

    get refusedItems() {
        return this.state.queue.filter((item) => item.status === "refused");
    }

    get sessionPending() {
        return this.session
            ? this.pendingItems.filter((i) => i.session_id === this.session.id)
            : [];
    }

    get currentStep() {
        return this.session?.steps.find((step) => step.state === "todo");
    }

    get isRunning() {
        return this.session?.state === "in_progress";
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
            this.state.online &&
            !this.state.busy
        );
    }

    get consentOk() {
        return this.session?.consent_status === "valid";
    }

    formatTime(value) {
        return value ? formatDateTime(deserializeDateTime(value), { format: "HH:mm" }) : "";
    }

    consentBadgeClass(status) {
        return status === "valid" ? "text-bg-success" : "text-bg-danger";
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

    opLabel(item) {
        const step = this.session?.steps.find((s) => s.id === item.step_id);
        const stepName = step ? step.name : "";
        switch (item.kind) {
            case "tick":
                return _t("Tick '%(step)s'", { step: stepName });
            case "skip":
                return _t("Skip '%(step)s'", { step: stepName });
            case "checkin":
                return _t("Check-in: pain %(pain)s/10", { pain: item.pain_level });
            default:
                return _t("Session record");
        }
    }

    // ------------------------------------------------------------------
    // Loading
    // ------------------------------------------------------------------

    async loadSessions() {
        this.state.loading = true;
        try {
            const result = await tabletApi.call("/spa/tablet/sessions_today");
            this.state.sessions = result.sessions;
            this.state.online = true;
        } catch (error) {
            if (!isOfflineError(error)) {
                throw error;
            }
            this.state.online = false;
        } finally {
            this.state.loading = false;
        }
        this.state.screen = "list";
        this.state.session = null;
    }

    async openSession(sessionId) {
        this.state.error = false;
        this.state.stopPrompt = false;
        this.state.checkin = null;
        this.state.skipping = null;
        await this.refreshSession(sessionId);
        this.state.screen = "session";
    }

    async refreshSession(sessionId = this.session?.id) {
        const cacheKey = `spa_session_protocol.session.${sessionId}`;
        let payload;
        try {
            const result = await tabletApi.call(`/spa/tablet/session/${sessionId}`);
            if (!result.ok) {
                this.state.error = result.error;
                return;
            }
            payload = result.session;
            this.state.online = true;
            this.state.fromCache = false;
            browser.localStorage.setItem(cacheKey, JSON.stringify(payload));
        } catch (error) {
            if (!isOfflineError(error)) {
                throw error;
            }
            this.state.online = false;
            const cached = browser.localStorage.getItem(cacheKey);
            if (!cached) {
                this.state.error = _t("No network and this session was never opened here.");
                return;
            }
            payload = JSON.parse(cached);
            this.state.fromCache = true;
        }
        this.state.session = this.withPending(payload);
    }

    /**
     * The server's view of the session with the device's queued work shown
     * on top (marked pending) until the server has accepted it.
     */
    withPending(payload) {
        const session = JSON.parse(JSON.stringify(payload));
        for (const item of this.queue.pending(session.id)) {
            this.applyLocally(session, item);
        }
        return session;
    }

    applyLocally(session, item) {
        const step = session.steps.find((s) => s.id === item.step_id);
        if (item.kind === "tick" && step && step.state === "todo") {
            Object.assign(step, { state: "done", pending: true });
        } else if (item.kind === "skip" && step && step.state === "todo") {
            Object.assign(step, { state: "skipped", pending: true, skip_reason: item.reason });
        } else if (item.kind === "checkin") {
            session.checkins.push({
                uuid: item.uuid,
                step_id: item.step_id || false,
                pain_level: item.pain_level,
                stop_requested: item.stop_requested,
                pending: true,
            });
            if (step) {
                step.checkin_count += 1;
            }
        } else if (item.kind === "record") {
            Object.assign(session, item.values);
        }
    }

    // ------------------------------------------------------------------
    // Queue
    // ------------------------------------------------------------------

    enqueue(op) {
        const item = this.queue.add({ session_id: this.session.id, ...op });
        this.state.queue = this.queue.items;
        this.applyLocally(this.state.session, item);
        return this.flush();
    }

    /** Send what is queued, in order; the server answers each item. */
    async flush() {
        if (this.flushing) {
            // Items queued while a batch is on its way go in the next one.
            this.flushAgain = true;
            return this.flushing;
        }
        this.flushAgain = false;
        const ops = this.queue.pending().map(({ status, error, ...op }) => op);
        if (!ops.length) {
            return;
        }
        this.flushing = (async () => {
            try {
                const { results } = await tabletApi.call("/spa/tablet/sync", { ops });
                this.state.online = true;
                const refusedBefore = this.queue.refused().length;
                this.queue.applyResults(results);
                this.state.queue = this.queue.items;
                if (this.queue.refused().length > refusedBefore) {
                    this.notification.add(
                        _t("The server did not accept some of the work: see the list at the top."),
                        { type: "danger", sticky: true }
                    );
                }
            } catch (error) {
                if (!isOfflineError(error)) {
                    throw error;
                }
                this.state.online = false;
                return;
            } finally {
                this.flushing = null;
            }
            if (this.flushAgain && this.queue.pending().length) {
                return this.flush();
            }
            if (this.session) {
                await this.refreshSession();
            }
        })();
        return this.flushing;
    }

    dismissRefused(item) {
        this.queue.dismiss(item.uuid);
        this.state.queue = this.queue.items;
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

    get skipReasons() {
        return [_t("Not needed"), _t("Client declined"), _t("Not suitable today")];
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

    adjustmentLabel(field) {
        return {
            adjust_angle: _t("Changed angle"),
            adjust_direction: _t("Changed direction"),
            adjust_lighter_pressure: _t("Lighter pressure"),
        }[field];
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

    /**
     * One tap logs the check-in; one that triggers the stop rule is
     * confirmed first, then leads straight to stopping.
     */
    async pickPain(level, stopRequested = false) {
        const checkin = this.state.checkin;
        const triggers = stopRequested || level >= this.session.pain_stop_threshold;
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
        });
    }

    // ------------------------------------------------------------------
    // Session transitions (online: the server decides)
    // ------------------------------------------------------------------

    async runAction(action, params = {}) {
        this.state.error = false;
        if (this.sessionPending.length) {
            await this.flush();
        }
        if (this.sessionPending.length || !this.state.online) {
            this.state.error = _t(
                "No network: starting, completing and stopping need the server. Your ticks and check-ins are kept on this tablet."
            );
            return;
        }
        this.state.busy = true;
        try {
            const result = await tabletApi.call(`/spa/tablet/session/${this.session.id}/action`, {
                action,
                ...params,
            });
            if (result.ok) {
                this.state.session = this.withPending(result.session);
                this.state.stopPrompt = false;
            } else {
                this.state.error = result.error;
                await this.refreshSession();
            }
        } catch (error) {
            if (!isOfflineError(error)) {
                throw error;
            }
            this.state.online = false;
            this.state.error = _t("No network: try again when the tablet is back online.");
        } finally {
            this.state.busy = false;
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

    async backToList() {
        await this.loadSessions();
    }

    // ------------------------------------------------------------------
    // Consent
    // ------------------------------------------------------------------

    async openConsent({ sessionId = null, eventId = null, standalone = false } = {}) {
        this.state.error = false;
        this.state.consentDone = false;
        try {
            const info = await tabletApi.call("/spa/tablet/consent_info", {
                session_id: sessionId,
                event_id: eventId,
            });
            if (!info.ok) {
                this.state.error = info.error;
                return;
            }
            this.state.consent = info;
            this.state.consentFor = { sessionId, eventId, standalone };
            this.state.screen = "consent";
        } catch (error) {
            if (!isOfflineError(error)) {
                throw error;
            }
            this.state.online = false;
            this.state.error = _t("Consent is signed online: the tablet has no network.");
        }
    }

    async signConsent({ signedBy, image }) {
        const target = this.state.consentFor;
        this.state.busy = true;
        this.state.error = false;
        try {
            const result = await tabletApi.call("/spa/tablet/consent", {
                session_id: target.sessionId,
                event_id: target.eventId,
                signature: image,
                signed_by: signedBy,
            });
            if (!result.ok) {
                this.state.error = result.error;
                return;
            }
            this.notification.add(_t("Consent %(name)s recorded.", { name: result.name }), {
                type: "success",
            });
            this.state.consentDone = true;
            if (target.sessionId && !target.standalone) {
                await this.openSession(target.sessionId);
            }
        } catch (error) {
            if (!isOfflineError(error)) {
                throw error;
            }
            this.state.online = false;
            this.state.error = _t("No network: the consent was not recorded. Try again.");
        } finally {
            this.state.busy = false;
        }
    }

    cancelConsent() {
        const target = this.state.consentFor;
        if (target?.sessionId && !target.standalone) {
            return this.openSession(target.sessionId);
        }
        if (target?.standalone) {
            return browser.history.back();
        }
        return this.loadSessions();
    }
}

registry.category("actions").add("spa_session_protocol.session_runner", SessionRunner);
