import {defineMailModels} from "@mail/../tests/mail_test_helpers";
import {describe, expect, test} from "@odoo/hoot";
import {click, drag, queryFirst, waitFor} from "@odoo/hoot-dom";
import {animationFrame} from "@odoo/hoot-mock";
import {
  defineModels,
  fields,
  models,
  mountView,
  onRpc,
} from "@web/../tests/web_test_helpers";

describe.current.tags("desktop");

class Consent extends models.Model {
  _name = "spa.consent";
  signed_by = fields.Char();
  signature = fields.Binary();
  _records = [{id: 1, signed_by: "Clara Client"}];
}
defineMailModels();
defineModels([Consent]);

test("the desk's consent signature is drawn, never typed or uploaded", async () => {
  onRpc("/web/sign/get_fonts/", () => ({}));
  await mountView({
    type: "form",
    resModel: "spa.consent",
    resId: 1,
    arch: /* xml */ `
      <form>
        <field name="signed_by"/>
        <field name="signature" widget="spa_drawn_signature"
               options="{'full_name': 'signed_by'}"/>
      </form>`,
  });
  await click("div[name=signature] div.o_signature");
  await waitFor(".modal .o_spa_drawn_signature .o_web_sign_name_and_signature");
  await animationFrame();
  // Odoo's dialog would open on the client's name typed in a font ("Auto"):
  // this one opens on the pad, and offers neither a typed name nor a file.
  expect(".modal .o_web_sign_draw_button.active").toHaveCount(1);
  expect(".modal canvas.o_web_sign_signature").toBeVisible();
  expect(".modal .o_web_sign_auto_button").not.toBeVisible();
  expect(".modal .o_web_sign_load_button").not.toBeVisible();
  expect(".modal .o_web_sign_auto_select_style").toHaveCount(0);
  expect(".modal .btn-primary:not([disabled])").toHaveCount(0);
  // Drawn, then adopted: the field holds the picture drawn.
  const {drop} = await drag(".modal canvas.o_web_sign_signature", {
    position: {x: 5, y: 5},
    relative: true,
  });
  await drop(".modal canvas.o_web_sign_signature", {
    position: {x: 60, y: 30},
    relative: true,
  });
  await animationFrame();
  await click(".modal .btn-primary:not([disabled])");
  await animationFrame();
  expect(".modal").toHaveCount(0);
  expect(queryFirst("div[name=signature] img.o_signature").dataset.src).toMatch(
    /^data:image\/png;base64,/
  );
});
