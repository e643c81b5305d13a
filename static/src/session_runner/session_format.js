import {deserializeDateTime, formatDateTime} from "@web/core/l10n/dates";
import {_t} from "@web/core/l10n/translation";

/** "HH:mm" of a server datetime string, or "". */
export function formatTime(value) {
  return value ? formatDateTime(deserializeDateTime(value), {format: "HH:mm"}) : "";
}

/** "HH:mm" of a device's ISO 8601 time (a queued item's `device_at`), or "". */
export function formatDeviceTime(value) {
  if (!value) {
    return "";
  }
  // The server sends "YYYY-MM-DD HH:MM:SS" (UTC); the device queues ISO 8601.
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(value)) {
    return formatTime(value);
  }
  const moment = luxon.DateTime.fromISO(value);
  return moment.isValid ? formatDateTime(moment, {format: "HH:mm"}) : "";
}

/** The badge colour of the server's consent status. */
export function consentBadgeClass(status) {
  return status === "valid" ? "text-bg-success" : "text-bg-danger";
}

/** One colour per session state: planned, running, completed, stopped, cancelled. */
const STATE_BADGES = {
  draft: "text-bg-info",
  in_progress: "text-bg-primary",
  done: "text-bg-success",
  stopped: "text-bg-danger",
  cancelled: "text-bg-dark",
};

export function stateBadgeClass(state) {
  return `o_spa_state_${state} ${STATE_BADGES[state] || "text-bg-secondary"}`;
}

/** "5/7 steps · 2/2 check-ins": the server's progress (`checklist_progress`). */
export function progressText(progress) {
  if (!progress) {
    return "";
  }
  return _t(
    "%(steps_done)s/%(steps_total)s steps · %(checkins_done)s/%(checkins_required)s check-ins",
    progress
  );
}
