import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";

/** "HH:mm" of a server datetime string, or "". */
export function formatTime(value) {
    return value ? formatDateTime(deserializeDateTime(value), { format: "HH:mm" }) : "";
}

/** The badge colour of the server's consent status. */
export function consentBadgeClass(status) {
    return status === "valid" ? "text-bg-success" : "text-bg-danger";
}
