import {registry} from "@web/core/registry";

/**
 * Fetch the client's copy behind the download link, as the browser would,
 * and fail the tour unless the server answers with a PDF attachment.
 */
async function downloadCopy() {
  const link = document.querySelector("a.o_spa_portal_pdf");
  const response = await fetch(link.getAttribute("href"));
  const type = response.headers.get("Content-Type") || "";
  const disposition = response.headers.get("Content-Disposition") || "";
  if (
    !response.ok ||
    !type.includes("application/pdf") ||
    !disposition.includes("attachment")
  ) {
    throw new Error(
      `The session record did not download as a PDF (${response.status} ${type}).`
    );
  }
  document.body.classList.add("o_spa_portal_pdf_downloaded");
}

registry.category("web_tour.tours").add("spa_client_portal_tour", {
  steps: () => [
    {
      content: "The client opens their spa records from their portal home",
      trigger: ".o_portal_index_card a[href='/my/spa']",
      run: "click",
    },
    {
      content: "They see their finished session",
      trigger: ".o_spa_portal_sessions .o_spa_portal_session:contains(Upper-back)",
    },
    {
      content: "and download their copy of its record",
      trigger: ".o_spa_portal_session a.o_spa_portal_pdf",
      run: downloadCopy,
    },
    {
      content: "The record was downloaded",
      trigger: "body.o_spa_portal_pdf_downloaded",
    },
  ],
});
