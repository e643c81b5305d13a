import {registry} from "@web/core/registry";
import {SignatureDialog} from "@web/core/signature/signature_dialog";
import {
  SignatureField,
  signatureField,
} from "@web/views/fields/signature/signature_field";
import {DrawnSignaturePad} from "@spa_session_protocol/drawn_signature/drawn_signature";

/**
 * Odoo's signature dialog with the client's pad: drawing only.
 */
export class DrawnSignatureDialog extends SignatureDialog {
  static template = "spa_session_protocol.DrawnSignatureDialog";
  static components = {
    ...SignatureDialog.components,
    NameAndSignature: DrawnSignaturePad,
  };
}

/**
 * Odoo's signature field for a consent recorded at the desk: the client
 * draws on the screen. A typed name ("Auto") or an uploaded image ("Load")
 * is not the client's signature, so the dialog offers neither, as the
 * client's own page and the tablet do not.
 */
export class DrawnSignatureField extends SignatureField {
  setup() {
    super.setup();
    // The field opens Odoo's dialog through this service: the same dialog,
    // drawing only.
    const dialog = this.dialogService;
    this.dialogService = {
      ...dialog,
      add: (component, props, options) =>
        dialog.add(
          component === SignatureDialog ? DrawnSignatureDialog : component,
          props,
          options
        ),
    };
  }
}

registry.category("fields").add("spa_drawn_signature", {
  ...signatureField,
  component: DrawnSignatureField,
});
