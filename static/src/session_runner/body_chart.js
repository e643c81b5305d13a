import {Component} from "@odoo/owl";

const SIDES = ["front", "back"];

/**
 * The body chart: the front and back outlines shipped with the addon, with
 * the server's body regions drawn on them as large touch targets. Tapping a
 * region selects it (`onSelect`); pain levels per region can be shown on it.
 */
export class BodyChart extends Component {
  static template = "spa_session_protocol.BodyChart";
  static props = {
    regions: {type: Array, element: Object},
    selectedId: {type: [Number, Boolean], optional: true},
    painByRegion: {type: Object, optional: true},
    onSelect: {type: Function, optional: true},
  };

  get sides() {
    return SIDES.map((side) => ({
      side,
      outline: `/spa_session_protocol/static/src/img/body_${side}.svg`,
      regions: this.props.regions.filter((region) => region.side === side),
    }));
  }

  regionClass(region) {
    const classes = ["o_spa_region"];
    if (region.is_sensitive) {
      classes.push("o_spa_region_sensitive");
    }
    if (region.id === this.props.selectedId) {
      classes.push("o_spa_region_selected");
    }
    if (this.painOf(region) !== undefined) {
      classes.push("o_spa_region_has_pain");
    }
    return classes.join(" ");
  }

  painOf(region) {
    return (this.props.painByRegion || {})[region.id];
  }

  select(region) {
    if (this.props.onSelect) {
      this.props.onSelect(region.id === this.props.selectedId ? false : region.id);
    }
  }
}
