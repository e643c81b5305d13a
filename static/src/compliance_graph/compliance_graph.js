import {registry} from "@web/core/registry";
import {formatFloat} from "@web/views/fields/formatters";
import {GraphRenderer} from "@web/views/graph/graph_renderer";
import {graphView} from "@web/views/graph/graph_view";

/**
 * The compliance analysis graph: each compliance state keeps its own colour
 * (compliant green, non-compliant red, pending amber, cancelled grey)
 * whichever states the period holds and in whichever order they come. Odoo's
 * graph colours its series by position, so the state that comes second would
 * otherwise be red, whatever it means.
 */
export const COMPLIANCE_FIELD = "compliance_state";
export const COMPLIANCE_COLORS = {
  compliant: "#28A745",
  non_compliant: "#DC3545",
  pending: "#F4A261",
  cancelled: "#A4A8B6",
};

/** The compliance state a series stands for, or undefined. */
export function datasetState(dataset) {
  for (const identifier of dataset.identifiers || []) {
    for (const part of JSON.parse(identifier).slice(1)) {
      if (COMPLIANCE_FIELD in part) {
        return part[COMPLIANCE_FIELD];
      }
    }
  }
  return undefined;
}

export class SpaComplianceGraphRenderer extends GraphRenderer {
  /** The colour of each x-axis label when the states are on the x axis. */
  labelColors(labels) {
    const {groupBy, fields} = this.model.metaData;
    if (!groupBy.length || groupBy[0].fieldName !== COMPLIANCE_FIELD) {
      return null;
    }
    const byLabel = Object.fromEntries(
      fields[COMPLIANCE_FIELD].selection.map(([value, label]) => [label, value])
    );
    return labels.map((label) => COMPLIANCE_COLORS[byLabel[label]]);
  }

  getBarChartData() {
    const data = super.getBarChartData();
    const colors = this.labelColors(data.labels);
    for (const dataset of data.datasets) {
      const color = COMPLIANCE_COLORS[datasetState(dataset)];
      if (color) {
        dataset.backgroundColor = color;
      } else if (colors && dataset.type !== "line") {
        dataset.backgroundColor = colors;
      }
    }
    return data;
  }

  getLineChartData() {
    const data = super.getLineChartData();
    for (const dataset of data.datasets) {
      const color = COMPLIANCE_COLORS[datasetState(dataset)];
      if (color) {
        dataset.borderColor = color;
        dataset.pointBackgroundColor = color;
        dataset.hoverBackgroundColor = color;
        dataset.backgroundColor = `${color}80`;
      }
    }
    return data;
  }

  getPieChartData() {
    const data = super.getPieChartData();
    const colors = this.labelColors(data.labels);
    if (colors) {
      for (const dataset of data.datasets) {
        const painted = dataset.backgroundColor.map(
          (color, index) => colors[index] || color
        );
        dataset.backgroundColor = painted;
        dataset.hoverBackgroundColor = painted;
      }
    }
    return data;
  }

  getLegendOptions() {
    const options = super.getLegendOptions();
    if (this.model.metaData.mode === "pie") {
      const generateLabels = options.labels.generateLabels;
      options.labels.generateLabels = (chart) => {
        const colors = chart.data.datasets[0]?.backgroundColor || [];
        return generateLabels(chart).map((item) => ({
          ...item,
          fillStyle: colors[item.index] || item.fillStyle,
        }));
      };
    }
    return options;
  }
}

export const spaComplianceGraphView = {
  ...graphView,
  Renderer: SpaComplianceGraphRenderer,
};

registry.category("views").add("spa_compliance_graph", spaComplianceGraphView);

/**
 * A rate in percent for the pivot: one decimal and the sign; a dash when no
 * session counts towards it (never "0.00" for "nothing to rate").
 */
export function formatSpaRate(value) {
  if (value === false || value === null || value === undefined) {
    return "–";
  }
  return `${formatFloat(value, {digits: [16, 1]})} %`;
}

registry.category("formatters").add("spa_rate", formatSpaRate);
