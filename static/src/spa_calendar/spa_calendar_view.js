import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";
import {CalendarController} from "@web/views/calendar/calendar_controller";
import {CalendarModel} from "@web/views/calendar/calendar_model";
import {calendarView} from "@web/views/calendar/calendar_view";

/**
 * The front desk's appointments: Odoo's calendar over every therapist's
 * appointments (no attendee filter), with a "New" button that opens the
 * booking form, as Odoo's own calendar app has one.
 */
export class SpaCalendarController extends CalendarController {
  setup() {
    super.setup();
    this.action = useService("action");
  }

  onClickSpaNew() {
    return this.action.doAction(
      {
        type: "ir.actions.act_window",
        res_model: this.props.resModel,
        views: [[false, "form"]],
        target: "current",
      },
      {additionalContext: this.props.context}
    );
  }
}

/**
 * Each appointment reads client first (``spa_calendar_label``): a narrow
 * column cuts the end of a label, never the client's name.
 */
export class SpaCalendarModel extends CalendarModel {
  normalizeRecord(rawRecord) {
    const record = super.normalizeRecord(rawRecord);
    if (rawRecord.spa_calendar_label) {
      record.title = rawRecord.spa_calendar_label;
    }
    return record;
  }
}

export const spaCalendarView = {
  ...calendarView,
  Controller: SpaCalendarController,
  Model: SpaCalendarModel,
  buttonTemplate: "spa_session_protocol.SpaCalendarController.controlButtons",
};

registry.category("views").add("spa_calendar", spaCalendarView);
