import {browser} from "@web/core/browser/browser";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";

/**
 * "Copy Kiosk Link" of a treatment room: the server gives the room's link
 * (`/spa/kiosk#<token>`, the token in the fragment that no browser sends to
 * a server); it goes to the manager's clipboard, to be opened on the room's
 * tablet, and nowhere else.
 */
async function copyKioskLink(env, action) {
  const url = action.params && action.params.url;
  try {
    await browser.navigator.clipboard.writeText(url);
    env.services.notification.add(
      _t(
        "The room's kiosk link is copied: open it on the room's tablet. It is the room's secret: do not send it by email or chat."
      ),
      {type: "success"}
    );
  } catch {
    env.services.notification.add(
      _t(
        "The kiosk link could not be copied: use Open Kiosk on the room's tablet itself."
      ),
      {type: "warning"}
    );
  }
}

registry.category("actions").add("spa_session_protocol.copy_kiosk_link", copyKioskLink);
