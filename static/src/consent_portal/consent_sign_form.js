import {Component, onMounted, useRef, useState} from "@odoo/owl";
import {rpc} from "@web/core/network/rpc";
import {registry} from "@web/core/registry";
import {NameAndSignature} from "@web/core/signature/name_and_signature";
import {redirect} from "@web/core/utils/urls";

/** Height of the pad on a phone: tall enough to sign with a finger. */
const MIN_PAD_HEIGHT = 200;
const MAX_PAD_HEIGHT = 280;

/**
 * Odoo's name-and-signature widget, drawing only: a consent carries the
 * client's drawn signature, so the "Auto" (typed name) and "Load" (an image
 * file) modes are not offered. The pad fills the width of the page and is
 * tall enough for a finger; the strokes drawn are sent with the picture so
 * that the server can check the picture is what was drawn.
 */
export class SpaDrawnSignature extends NameAndSignature {
  static template = "spa_session_protocol.DrawnSignature";

  setup() {
    super.setup();
    this.state.signMode = "draw";
    this.props.signature.getStrokes = () => this.getStrokes();
  }

  setMode(mode, reset) {
    super.setMode("draw", reset);
  }

  resizeSignature() {
    const canvas = this.signatureRef.el;
    const width = canvas.clientWidth;
    const height = Math.round(
      Math.min(Math.max(width / 1.8, MIN_PAD_HEIGHT), MAX_PAD_HEIGHT)
    );
    Object.assign(canvas, {width, height});
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

/**
 * The signing form of the consent page, shown under the consent text (not in
 * a dialog over it): Odoo's portal signature form, with the drawn-only pad
 * and the strokes posted beside the picture.
 */
export class SpaConsentSignForm extends Component {
  static template = "spa_session_protocol.ConsentSignForm";
  static components = {SpaDrawnSignature};
  static props = ["*"];

  setup() {
    this.rootRef = useRef("root");
    this.state = useState({error: false, sending: false});
    this.signature = useState({
      name: this.props.defaultName || "",
      isSignatureEmpty: true,
    });
    onMounted(() => {
      const section = this.rootRef.el.closest(".collapse");
      if (!section) {
        return;
      }
      section.addEventListener("shown.bs.collapse", () => {
        // The pad takes its size once it is visible.
        this.signature.resetSignature();
        this.signature.isSignatureEmpty = true;
        this.scrollToPad(section);
      });
    });
  }

  /**
   * Bring the whole signing section into view, its end at the bottom of
   * the screen: the end of the text stays in view above the pad.
   */
  scrollToPad(section) {
    const scroll = () => {
      const rect = section.getBoundingClientRect();
      const below = rect.bottom + 8 - window.innerHeight;
      if (below > 0) {
        window.scrollBy({top: below, left: 0, behavior: "instant"});
      }
    };
    scroll();
    // once more after the name field took the focus (and maybe scrolled)
    requestAnimationFrame(scroll);
  }

  get canSend() {
    return (
      !this.state.sending &&
      !this.signature.isSignatureEmpty &&
      Boolean((this.signature.name || "").trim())
    );
  }

  onClickClear() {
    this.signature.resetSignature();
    this.signature.isSignatureEmpty = true;
  }

  async onClickSubmit() {
    this.state.sending = true;
    this.state.error = false;
    const data = await rpc(this.props.callUrl, {
      name: this.signature.name,
      signature: this.signature.getSignatureImage().split(",")[1],
      strokes: this.signature.getStrokes(),
    });
    if (data.force_refresh && data.redirect_url) {
      redirect(data.redirect_url);
      // do not resolve: the page is leaving
      return new Promise(() => {});
    }
    this.state.error = data.error || false;
    this.state.sending = false;
  }
}

registry
  .category("public_components")
  .add("spa_session_protocol.consent_sign_form", SpaConsentSignForm);
