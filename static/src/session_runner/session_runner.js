import {Component, onMounted, onWillStart, onWillUnmount, useState} from "@odoo/owl";
import {browser} from "@web/core/browser/browser";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";
import {ConsentPad} from "./consent_pad";
import {SessionChecklist} from "./session_checklist";
import {SessionList} from "./session_list";
import {withPending} from "./session_payload";
import {isOfflineError, tabletApi} from "./tablet_api";

const RETRY_DELAY = 15000;

/**
 * The therapist's tablet runner: today's sessions (`SessionList`), one
 * session's checklist (`SessionChecklist`) and consent signed on the tablet
 * (`ConsentPad`). This component only moves between those screens, loads
 * what they show from the server and keeps the device's queue syncing
 * (the `spa_session_protocol.offline_queue` service).
 *
 * It holds no copy of the session rules: everything the screens show about
 * them comes from the server's payload.
 */
export class SessionRunner extends Component {
  static template = "spa_session_protocol.SessionRunner";
  static components = {ConsentPad, SessionChecklist, SessionList};
  static props = ["*"];

  setup() {
    this.notification = useService("notification");
    this.queue = useService("spa_session_protocol.offline_queue");
    this.queueState = useState(this.queue.state);
    this.state = useState({
      screen: "list",
      sessions: [],
      session: null,
      consent: null,
      consentFor: null,
      consentDone: false,
      loading: false,
      busy: false,
      error: false,
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
    // After each sync, show the server's view of the open session.
    const stopSynced = this.queue.onSynced(async () => {
      if (this.session) {
        await this.refreshSession();
      }
    });
    this.onOnline = () => {
      this.queue.setOnline(true);
      this.queue.flush();
    };
    this.onOffline = () => {
      this.queue.setOnline(false);
    };
    onMounted(() => {
      browser.addEventListener("online", this.onOnline);
      browser.addEventListener("offline", this.onOffline);
      this.retryInterval = browser.setInterval(() => {
        if (this.queue.pending().length) {
          this.queue.flush();
        }
      }, RETRY_DELAY);
      this.queue.flush();
    });
    onWillUnmount(() => {
      stopSynced();
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
    return this.queueState.items.filter((item) => item.status === "pending");
  }

  /**
   * Refusals not shown where they happened: those of sessions other than
   * the open one (the open session's are shown at their step).
   */
  get refusedItems() {
    return this.queueState.items.filter(
      (item) =>
        item.status === "refused" &&
        !(this.state.screen === "session" && item.session_id === this.session?.id)
    );
  }

  opLabel(item) {
    const step = this.session?.steps.find((s) => s.id === item.step_id);
    const stepName = step ? step.name : "";
    switch (item.kind) {
      case "tick":
        return _t("Tick '%(step)s'", {step: stepName});
      case "skip":
        return _t("Skip '%(step)s'", {step: stepName});
      case "checkin":
        return _t("Check-in: pain %(pain)s/10", {pain: item.pain_level});
      default:
        return _t("Session record");
    }
  }

  dismissRefused(item) {
    this.queue.dismiss(item.uuid);
  }

  // ------------------------------------------------------------------
  // Loading
  // ------------------------------------------------------------------

  async loadSessions() {
    this.state.loading = true;
    try {
      const result = await tabletApi.call("/spa/tablet/sessions_today");
      this.state.sessions = result.sessions;
      this.queue.setOnline(true);
    } catch (error) {
      if (!isOfflineError(error)) {
        throw error;
      }
      this.queue.setOnline(false);
    } finally {
      this.state.loading = false;
    }
    this.state.screen = "list";
    this.state.session = null;
  }

  async openSession(sessionId) {
    this.state.error = false;
    this.state.session = null;
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
      this.queue.setOnline(true);
      this.state.fromCache = false;
      browser.localStorage.setItem(cacheKey, JSON.stringify(payload));
    } catch (error) {
      if (!isOfflineError(error)) {
        throw error;
      }
      this.queue.setOnline(false);
      const cached = browser.localStorage.getItem(cacheKey);
      if (!cached) {
        this.state.error = _t("No network and this session was never opened here.");
        return;
      }
      payload = JSON.parse(cached);
      this.state.fromCache = true;
    }
    this.state.session = withPending(payload, this.queue.pending(payload.id));
  }

  // ------------------------------------------------------------------
  // Session transitions (online: the server decides)
  // ------------------------------------------------------------------

  /**
   * Ask the server to start, complete or stop the open session. The
   * answer goes back to the screen that asked, which shows a refusal
   * beside the button tapped.
   * @returns {Promise<{ok: boolean, error?: string}>}
   */
  async runAction(action, params = {}) {
    this.state.error = false;
    const pending = () => this.queue.pending(this.session.id);
    if (pending().length) {
      await this.queue.flush();
    }
    if (pending().length || !this.queueState.online) {
      return {
        ok: false,
        error: _t(
          "No network: starting, completing and stopping need the server. Your ticks and check-ins are kept on this tablet."
        ),
      };
    }
    this.state.busy = true;
    try {
      const result = await tabletApi.call(
        `/spa/tablet/session/${this.session.id}/action`,
        {
          action,
          ...params,
        }
      );
      if (result.ok) {
        this.state.session = withPending(result.session, pending());
        return {ok: true};
      }
      await this.refreshSession();
      return {ok: false, error: result.error};
    } catch (error) {
      if (!isOfflineError(error)) {
        throw error;
      }
      this.queue.setOnline(false);
      return {
        ok: false,
        error: _t("No network: try again when the tablet is back online."),
      };
    } finally {
      this.state.busy = false;
    }
  }

  async backToList() {
    await this.loadSessions();
  }

  // ------------------------------------------------------------------
  // Consent
  // ------------------------------------------------------------------

  async openConsent({sessionId = null, eventId = null, standalone = false} = {}) {
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
      this.state.consentFor = {sessionId, eventId, standalone};
      this.state.screen = "consent";
    } catch (error) {
      if (!isOfflineError(error)) {
        throw error;
      }
      this.queue.setOnline(false);
      this.state.error = _t("Consent is signed online: the tablet has no network.");
    }
  }

  async signConsent({signedBy, image, strokes = [], regionIds = []}) {
    const target = this.state.consentFor;
    this.state.busy = true;
    this.state.error = false;
    try {
      const result = await tabletApi.call("/spa/tablet/consent", {
        session_id: target.sessionId,
        event_id: target.eventId,
        signature: image,
        strokes,
        signed_by: signedBy,
        region_ids: regionIds,
      });
      if (!result.ok) {
        this.state.error = result.error;
        return;
      }
      this.notification.add(_t("Consent %(name)s recorded.", {name: result.name}), {
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
      this.queue.setOnline(false);
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
