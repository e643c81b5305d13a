import {NameAndSignature} from "@web/core/signature/name_and_signature";

/**
 * Odoo's name-and-signature widget, drawing only: a consent carries the
 * client's drawn signature, so the "Auto" (typed name) and "Load" (an image
 * file) modes are never used. The strokes drawn are given to the caller
 * (`signature.getStrokes()`) to be sent with the picture, so that the server
 * can check the picture is what was drawn. Used by the client's consent page
 * and by the tablet.
 */
export class DrawnSignaturePad extends NameAndSignature {
  setup() {
    super.setup();
    this.state.signMode = "draw";
    this.props.signature.getStrokes = () => this.getStrokes();
  }

  setMode(mode, reset) {
    super.setMode("draw", reset);
  }

  /**
   * The strokes drawn, as lists of [x, y] points in the picture's pixels.
   */
  getStrokes() {
    const canvas = this.signatureRef.el;
    if (!canvas || !this.signaturePad) {
      return [];
    }
    const rect = canvas.getBoundingClientRect();
    const scaleX = rect.width ? canvas.width / rect.width : 1;
    const scaleY = rect.height ? canvas.height / rect.height : 1;
    const round = (value) => Math.round(value * 10) / 10;
    return this.signaturePad
      .toData()
      .map((group) =>
        group.points.map((p) => [round(p.x * scaleX), round(p.y * scaleY)])
      );
  }
}
