import {ConnectionLostError, rpc} from "@web/core/network/rpc";

/**
 * The runner's only way to the server (patched in unit tests to simulate
 * the network going away).
 */
export const tabletApi = {
  /**
   * @param {string} route
   * @param {Object} [params]
   */
  call(route, params = {}) {
    return rpc(route, params, {silent: true});
  },
};

/** Whether an error means "no network" (keep the work queued) rather than a refusal. */
export function isOfflineError(error) {
  return error instanceof ConnectionLostError;
}
