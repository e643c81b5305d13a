import {Component, onMounted, useRef, useState} from "@odoo/owl";
import {rpc} from "@web/core/network/rpc";
import {registry} from "@web/core/registry";
import {redirect} from "@web/core/utils/urls";
import {DrawnSignaturePad} from "@spa_session_protocol/drawn_signature/drawn_signature";

/** Height of the pad on a phone: tall enough to sign with a finger. */
const MIN_PAD_HEIGHT = 200;
const MAX_PAD_HEIGHT = 280;

/**
 * The drawing-only pad (`DrawnSignaturePad`) laid out for a phone: it fills
 * the width of the page and is tall enough for a finger.
 */
export class SpaDrawnSignature extends DrawnSignaturePad {
  static template = "spa_session_protocol.DrawnSignature";

  resizeSignature() {
    const canvas = this.signatureRef.el;
    const width = canvas.clientWidth;
    const height = Math.round(
      Math.min(Math.max(width / 1.8, MIN_PAD_HEIGHT), MAX_PAD_HEIGHT)
    );
    Object.assign(canvas, {width, height});
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
