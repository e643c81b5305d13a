import {reactive} from "@odoo/owl";
import {browser} from "@web/core/browser/browser";
import {registry} from "@web/core/registry";
import {user} from "@web/core/user";
import {isOfflineError, tabletApi} from "./tablet_api";

/**
 * Operations made on the tablet, kept on the device until the server has
 * answered them. An item is `pending` until the server accepts it (then it is
 * removed) or refuses it (then it stays, `refused`, with the server's message,
 * until the therapist has seen and dismissed it): nothing is dropped silently.
 *
 * Each operation carries a client-generated idempotency key (`uuid`), so
 * sending it twice (a lost answer, a retry) never creates a second record.
 */
export class OfflineQueue {
  /**
   * @param {string} storageKey
   * @param {Storage} [storage]
   */
  constructor(storageKey, storage = browser.localStorage) {
    this.storageKey = storageKey;
    this.storage = storage;
    this.items = this._load();
  }

  static newKey() {
    const crypto = globalThis.crypto;
    if (crypto.randomUUID) {
      // Only in secure contexts (https, localhost).
      return crypto.randomUUID();
    }
    // Plain http on the local network: RFC 4122 version 4 from getRandomValues.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(
      16,
      20
    )}-${hex.slice(20)}`;
  }

  _load() {
    try {
      const items = JSON.parse(this.storage.getItem(this.storageKey) || "[]");
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  _save() {
    this.storage.setItem(this.storageKey, JSON.stringify(this.items));
  }

  /**
   * Queue an operation; returns the stored item.
   * @param {Object} op { kind, session_id, ... }
   */
  add(op) {
    const item = {
      uuid: OfflineQueue.newKey(),
      device_at: new Date().toISOString(),
      ...op,
      status: "pending",
      error: false,
    };
    this.items.push(item);
    this._save();
    return item;
  }

  pending(sessionId = null) {
    return this.items.filter(
      (item) =>
        item.status === "pending" &&
        (sessionId === null || item.session_id === sessionId)
    );
  }

  refused(sessionId = null) {
    return this.items.filter(
      (item) =>
        item.status === "refused" &&
        (sessionId === null || item.session_id === sessionId)
    );
  }

  /**
   * Apply the server's answers of a sync: accepted items leave the queue,
   * refused ones stay with their message; unanswered ones stay pending.
   * @param {{uuid: string, ok: boolean, error?: string, retry?: boolean}[]} results
   */
  applyResults(results) {
    const byKey = new Map(results.map((result) => [result.uuid, result]));
    this.items = this.items.filter((item) => {
      const result = byKey.get(item.uuid);
      if (!result || item.status !== "pending" || result.retry) {
        return true;
      }
      if (result.ok) {
        return false;
      }
      item.status = "refused";
      item.error = result.error;
      return true;
    });
    this._save();
  }

  /** The therapist has read the refusal. */
  dismiss(uuid) {
    this.items = this.items.filter((item) => item.uuid !== uuid);
    this._save();
  }
}

/**
 * The tablet's offline queue as a service: the operations kept on the device
 * (one queue per user), the network state, and the sync that sends them in
 * order to the server. Components use it with `useService`.
 *
 * `state` is reactive: `items` (every queued item, pending or refused) and
 * `online`. After each sync that reached the server, the callbacks given to
 * `onSynced` run (the runner reloads the session it shows from the server).
 */
export const offlineQueueService = {
  start() {
    const queue = new OfflineQueue(`spa_session_protocol.queue.${user.userId}`);
    const state = reactive({
      items: queue.items,
      online: browser.navigator.onLine !== false,
    });
    const syncedCallbacks = new Set();
    let flushing = null;
    let flushAgain = false;

    const refresh = () => {
      state.items = queue.items;
    };

    async function sync() {
      const ops = queue.pending().map(({status, error, ...op}) => op);
      try {
        const {results} = await tabletApi.call("/spa/tablet/sync", {ops});
        state.online = true;
        // A refusal stays in the queue, shown where it was tapped
        // (the runner's step, footer or overlay), until dismissed.
        queue.applyResults(results);
        refresh();
      } catch (error) {
        if (!isOfflineError(error)) {
          throw error;
        }
        state.online = false;
        return false;
      }
      return true;
    }

    /** Send what is queued, in order; the server answers each item. */
    function flush() {
      if (flushing) {
        // Items queued while a batch is on its way go in the next one.
        flushAgain = true;
        return flushing;
      }
      flushAgain = false;
      if (!queue.pending().length) {
        return Promise.resolve();
      }
      flushing = (async () => {
        let reached;
        try {
          reached = await sync();
        } finally {
          flushing = null;
        }
        if (!reached) {
          return;
        }
        if (flushAgain && queue.pending().length) {
          return flush();
        }
        for (const callback of [...syncedCallbacks]) {
          await callback();
        }
      })();
      return flushing;
    }

    return {
      state,
      /** Queue an operation (it gets its idempotency key); returns the item. */
      add(op) {
        const item = queue.add(op);
        refresh();
        return item;
      },
      pending(sessionId = null) {
        return queue.pending(sessionId);
      },
      refused(sessionId = null) {
        return queue.refused(sessionId);
      },
      /** The therapist has read the refusal. */
      dismiss(uuid) {
        queue.dismiss(uuid);
        refresh();
      },
      setOnline(online) {
        state.online = online;
      },
      flush,
      /**
       * @param {Function} callback run (and awaited) after each sync
       * @returns {Function} to stop
       */
      onSynced(callback) {
        syncedCallbacks.add(callback);
        return () => syncedCallbacks.delete(callback);
      },
    };
  },
};

registry
  .category("services")
  .add("spa_session_protocol.offline_queue", offlineQueueService);
