/**
 * The server's payload of a session with the device's queued work shown on
 * top (marked pending) until the server has accepted it. Only what the
 * therapist did is shown: whether the rules allow completing, or whether a
 * check-in triggers the stop rule, stays the server's answer.
 */

/** Show one queued item on the session (in place). */
export function applyLocally(session, item) {
  const step = session.steps.find((s) => s.id === item.step_id);
  const progress = session.progress;
  if (item.kind === "tick" && step && step.state === "todo") {
    Object.assign(step, {state: "done", pending: true, device_done_at: item.device_at});
    if (progress && step.is_mandatory) {
      progress.steps_done += 1;
    }
  } else if (item.kind === "skip" && step && step.state === "todo") {
    Object.assign(step, {
      state: "skipped",
      pending: true,
      skip_reason: item.reason,
      device_done_at: item.device_at,
    });
  } else if (item.kind === "checkin") {
    session.checkins.push({
      uuid: item.uuid,
      step_id: item.step_id || false,
      pain_level: item.pain_level,
      stop_requested: item.stop_requested,
      region_id: item.region_id || false,
      device_at: item.device_at,
      pending: true,
    });
    if (step) {
      step.checkin_count += 1;
    }
    // Counted at once; the list marks it pending until the server has it.
    if (progress && progress.checkins_done < progress.checkins_required) {
      progress.checkins_done += 1;
    }
  } else if (item.kind === "regions" && step) {
    step.touched_regions = step.touched_regions.filter((r) =>
      item.region_ids.includes(r.id)
    );
    // What rule 8 says once the server has the adapted technique.
    step.region_warning = "";
    step.pending = true;
  } else if (item.kind === "record") {
    Object.assign(session, item.values);
  }
}

/** A copy of `payload` with the `pending` items applied. */
export function withPending(payload, pending) {
  const session = JSON.parse(JSON.stringify(payload));
  for (const item of pending) {
    applyLocally(session, item);
  }
  return session;
}
