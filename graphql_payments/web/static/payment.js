// Return pages (/pay/success, /pay/cancel, /pay/return): ask the server until the payment is final.
(function () {
  const watch = document.getElementById("watch");
  if (!watch || watch.dataset.final === "true") return;
  const tones = { SUCCEEDED: "good", AUTHORIZED: "good", RELEASED: "good",
                  FAILED: "bad", EXPIRED: "bad", CANCELED: "bad",
                  PENDING: "wait", REQUIRES_ACTION: "wait" };
  async function poll() {
    try {
      const response = await fetch(watch.dataset.url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const view = await response.json();
        const status = document.getElementById("status");
        status.textContent = view.status;
        status.className = "status " + (tones[view.status] || "");
        document.getElementById("message").textContent = view.message;
        if (view.final) {
          document.getElementById("waiting").hidden = true;
          return;
        }
      }
    } catch (error) {
      // The server may be restarting: keep asking.
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
