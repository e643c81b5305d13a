/** @odoo-module ignore */
/* global indexedDB */

/**
 * The room tablet's storage on the device (IndexedDB):
 * - `outbox`: operations made on the tablet (ticks, skips, records, check-ins),
 *   each with a device-made UUID, kept until the server has answered them;
 * - `state`: the day's plan of the room (no clinical detail) and, while a
 *   therapist has the tablet unlocked, their unlock and the session they run.
 *   The unlocked session is removed when the tablet locks.
 */
(function () {
  "use strict";

  const DB_VERSION = 1;

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  class SpaKioskStore {
    constructor(name) {
      this.name = name;
      this.db = null;
    }

    async open() {
      if (this.db) {
        return this.db;
      }
      const req = indexedDB.open(this.name, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("outbox")) {
          db.createObjectStore("outbox", {keyPath: "uuid"});
        }
        if (!db.objectStoreNames.contains("state")) {
          db.createObjectStore("state");
        }
      };
      this.db = await request(req);
      return this.db;
    }

    async _store(name, mode) {
      const db = await this.open();
      return db.transaction(name, mode).objectStore(name);
    }

    async get(key) {
      return request((await this._store("state", "readonly")).get(key));
    }

    async set(key, value) {
      return request((await this._store("state", "readwrite")).put(value, key));
    }

    async remove(key) {
      return request((await this._store("state", "readwrite")).delete(key));
    }

    async outbox() {
      const items = await request((await this._store("outbox", "readonly")).getAll());
      return items.sort((a, b) => a.seq - b.seq);
    }

    async add(item) {
      return request((await this._store("outbox", "readwrite")).put(item));
    }

    async done(uuid) {
      return request((await this._store("outbox", "readwrite")).delete(uuid));
    }

    async clear() {
      const db = await this.open();
      const tx = db.transaction(["outbox", "state"], "readwrite");
      tx.objectStore("outbox").clear();
      tx.objectStore("state").clear();
      return new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
    }
  }

  /** An RFC 4122 version 4 UUID, made on the device. */
  function newUuid() {
    const crypto = globalThis.crypto;
    if (crypto.randomUUID) {
      return crypto.randomUUID();
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    return [
      hex.slice(0, 8),
      hex.slice(8, 12),
      hex.slice(12, 16),
      hex.slice(16, 20),
      hex.slice(20),
    ].join("-");
  }

  globalThis.SpaKioskStore = SpaKioskStore;
  globalThis.spaKioskNewUuid = newUuid;
})();
