import {Component, markup, useState} from "@odoo/owl";
import {DrawnSignaturePad} from "@spa_session_protocol/drawn_signature/drawn_signature";

/**
 * The client reads the protocol's consent text and signs with a finger (a
 * drawing only: the strokes are sent with the picture, and the server checks
 * the picture is their drawing). The server creates and gives the consent
 * (method "signature").
 */
export class ConsentPad extends Component {
  static template = "spa_session_protocol.ConsentPad";
  static components = {DrawnSignaturePad};
  static props = {
    info: Object,
    busy: {type: Boolean, optional: true},
    error: {type: [String, Boolean], optional: true},
    onSign: Function,
    onCancel: Function,
  };

  setup() {
    this.signature = useState({
      name: this.props.info.partner_name || "",
      isSignatureEmpty: true,
    });
    this.state = useState({agreed: false, regionIds: []});
  }

  /** The sensitive areas of the protocol, each agreed to separately. */
  get sensitiveRegions() {
    return this.props.info.sensitive_regions || [];
  }

  isRegionAgreed(region) {
    return this.state.regionIds.includes(region.id);
  }

  toggleRegion(region) {
    this.state.regionIds = this.isRegionAgreed(region)
      ? this.state.regionIds.filter((id) => id !== region.id)
      : [...this.state.regionIds, region.id];
  }

  get consentText() {
    return markup(this.props.info.consent_text || "");
  }

  get canSign() {
    return (
      this.state.agreed &&
      !this.signature.isSignatureEmpty &&
      this.signature.name.trim() &&
      !this.props.busy
    );
  }

  onClickSign() {
    if (!this.canSign) {
      return;
    }
    this.props.onSign({
      signedBy: this.signature.name.trim(),
      image: this.signature.getSignatureImage(),
      strokes: this.signature.getStrokes(),
      regionIds: [...this.state.regionIds],
    });
  }
}
