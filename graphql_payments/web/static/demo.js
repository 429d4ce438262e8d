// The demo shop: plain JavaScript over the public GraphQL API (POST /graphql), as a frontend
// would call it. Sign-in is the demo's own: POST /demo/session mints a short-lived token for a
// made-up user; a real frontend gets its JWT from its own login instead.
"use strict";

const SCHEMA = `{ __schema { queryType { fields { name } } mutationType { fields { name } } } }`;
const ME = `{ me { userId creditsBalance } creditPackages { id name credits price { formatted } description } }`;
const CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    __typename
    ... on CheckoutSuccess { checkoutUrl }
    ... on UserError { code message }
  }
}`;
const HISTORY = `{ paymentHistory(first: 20) { edges { node {
  id kind status credits createdAt description
  amount { formatted } refundedAmount { amount formatted }
  refunds { amount { formatted } status }
} } } }`;
const REFUND = `mutation Refund($input: RefundInput!) {
  refund(input: $input) { __typename ... on UserError { code message } }
}`;
const CARDS = `{ paymentMethods { id brand last4 expMonth expYear isDefault } }`;
const ADD_CARD = `mutation AddCard($input: AddPaymentMethodInput!) {
  addPaymentMethod(input: $input) {
    __typename
    ... on AddPaymentMethodSuccess { setupUrl }
    ... on UserError { code message }
  }
}`;
const AUTOPAY = `{ autopay { enabled status packageId credits dayOfMonth belowBalance nextChargeAt } }`;
const SET_AUTOPAY = `mutation Autopay($input: AutopayInput!) {
  autopay(input: $input) { __typename ... on UserError { code message } }
}`;
const REFUNDABLE = ["SUCCEEDED", "PARTIALLY_REFUNDED", "RELEASED"];

const $ = (id) => document.getElementById(id);
const sandbox = $("config").dataset.sandbox === "true";
let features = { cards: false, autopay: false };

function key() {
  return "demo-" + (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function graphql(query, variables, token) {
  const headers = { "Content-Type": "application/json" };
  const bearer = token || localStorage.getItem("demo.token");
  if (bearer) headers.Authorization = "Bearer " + bearer;
  const response = await fetch("/graphql", {
    method: "POST", headers, body: JSON.stringify({ query, variables: variables || {} }),
  });
  const body = await response.json();
  if (body.errors) {
    if (body.errors.some((e) => (e.extensions || {}).code === "UNAUTHENTICATED")) signOut();
    throw new Error(body.errors.map((e) => e.message).join("; "));
  }
  return body.data;
}

// A mutation's result: its success member, or an Error carrying the UserError's message.
function expect(result, success) {
  if (result.__typename !== success) throw new Error(result.message || result.__typename);
  return result;
}

async function session(name, admin) {
  const response = await fetch("/demo/session", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, admin: Boolean(admin) }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function signOut() {
  localStorage.removeItem("demo.token");
  localStorage.removeItem("demo.user");
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
}

async function discover() {
  let schema;
  try {
    schema = (await graphql(SCHEMA)).__schema;
  } catch (error) {
    return; // introspection is off (PAYMENTS_INTROSPECTION=false): show the basics only
  }
  const queries = new Set(schema.queryType.fields.map((f) => f.name));
  const mutations = new Set((schema.mutationType ? schema.mutationType.fields : []).map((f) => f.name));
  features = {
    cards: queries.has("paymentMethods") && mutations.has("addPaymentMethod"),
    autopay: queries.has("autopay") && mutations.has("autopay"),
  };
}

async function buy(input) {
  showError("");
  try {
    // No successUrl/cancelUrl: the server's own /pay/success and /pay/cancel pages.
    const result = expect((await graphql(CHECKOUT, { input: { ...input, idempotencyKey: key() } })).checkout, "CheckoutSuccess");
    location.href = result.checkoutUrl;
  } catch (error) {
    showError(error.message);
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function refund(paymentId) {
  showError("");
  try {
    const admin = await session("shop-admin", true);
    const input = { paymentId, idempotencyKey: key(), reason: "requested_by_customer" };
    expect((await graphql(REFUND, { input }, admin.token)).refund, "RefundSuccess");
    await refresh();
  } catch (error) {
    showError(error.message);
  }
}

function renderPackages(packages) {
  const box = $("packages");
  box.replaceChildren();
  for (const p of packages) {
    const div = document.createElement("div");
    div.className = "package";
    div.innerHTML = `<strong></strong><div class="price"></div><p class="muted"></p>`;
    div.querySelector("strong").textContent = `${p.name}: ${p.credits} credits`;
    div.querySelector(".price").textContent = p.price.formatted;
    div.querySelector("p").textContent = p.description;
    const button = document.createElement("button");
    button.className = "primary";
    button.textContent = "Buy " + p.name;
    button.dataset.package = p.id;
    button.addEventListener("click", () => buy({ packageId: p.id }));
    div.append(button);
    box.append(div);
  }
  const select = $("autopay-package");
  select.replaceChildren(...packages.map((p) => new Option(`${p.name} (${p.credits} credits)`, p.id)));
}

function renderHistory(payments) {
  const rows = payments.map(({ node: p }) => {
    const tr = document.createElement("tr");
    tr.dataset.payment = p.id;
    const what = p.credits ? `${p.credits} credits` : (p.description || p.kind);
    const refunds = p.refunds.map((r) => `${r.amount.formatted} ${r.status}`).join(", ");
    tr.append(cell(new Date(p.createdAt).toLocaleString()), cell(what),
              cell(p.amount.formatted, "amount"), cell(p.status), cell(refunds || "-"));
    const actions = document.createElement("td");
    if (sandbox && REFUNDABLE.includes(p.status)) {
      const button = document.createElement("button");
      button.className = "secondary small";
      button.textContent = "Refund";
      button.addEventListener("click", () => refund(p.id));
      actions.append(button);
    }
    tr.append(actions);
    return tr;
  });
  $("history").replaceChildren(...rows);
  $("refund-hint").hidden = !sandbox;
}

async function renderCards() {
  $("cards-section").hidden = !features.cards;
  if (!features.cards) return;
  let cards = (await graphql(CARDS)).paymentMethods;
  // Back from the hosted setup page: the card appears once Stripe's webhook has arrived.
  const params = new URLSearchParams(location.search);
  for (let tries = 0; params.has("card-saved") && tries < 20; tries++) {
    if (cards.length > Number(params.get("card-saved"))) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    cards = (await graphql(CARDS)).paymentMethods;
  }
  if (params.has("card-saved")) history.replaceState(null, "", location.pathname);
  $("cards").replaceChildren(...cards.map((c) => {
    const tr = document.createElement("tr");
    tr.append(cell(`${c.brand} ending ${c.last4}`), cell(`${c.expMonth}/${c.expYear}`),
              cell(c.isDefault ? "default" : ""));
    return tr;
  }));
}

async function renderAutopay() {
  $("autopay-section").hidden = !features.autopay;
  if (!features.autopay) return;
  const autopay = (await graphql(AUTOPAY)).autopay;
  if (!autopay || !autopay.enabled) {
    $("autopay-state").textContent = "Autopay is off.";
    return;
  }
  const when = [autopay.dayOfMonth ? `on day ${autopay.dayOfMonth} of each month` : "",
                autopay.belowBalance ? `when the balance falls below ${autopay.belowBalance}` : ""]
    .filter(Boolean).join(" and ");
  $("autopay-state").textContent =
    `Autopay is ${autopay.status}: buys ${autopay.packageId || autopay.credits + " credits"} ${when}` +
    (autopay.nextChargeAt ? `; next on ${new Date(autopay.nextChargeAt).toLocaleDateString()}` : "") + ".";
}

async function refresh() {
  const data = await graphql(ME);
  $("user").textContent = data.me.userId;
  $("balance").textContent = data.me.creditsBalance;
  renderPackages(data.creditPackages);
  renderHistory((await graphql(HISTORY)).paymentHistory.edges);
  await renderCards();
  await renderAutopay();
}

async function start() {
  $("cards-hint").hidden = !sandbox;
  if (!localStorage.getItem("demo.token")) return signOut();
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  try {
    await discover();
    await refresh();
  } catch (error) {
    showError(error.message);
  }
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  try {
    const signed = await session($("name").value, false);
    localStorage.setItem("demo.token", signed.token);
    localStorage.setItem("demo.user", signed.userId);
    await start();
  } catch (error) {
    showError(error.message);
  }
});
$("sign-out").addEventListener("click", signOut);
$("custom").addEventListener("submit", (event) => {
  event.preventDefault();
  buy({ credits: Number($("credits").value) });
});
$("add-card").addEventListener("click", async () => {
  showError("");
  try {
    const saved = $("cards").children.length;
    const input = { returnUrl: `${location.origin}/demo?card-saved=${saved}`, idempotencyKey: key() };
    location.href = expect((await graphql(ADD_CARD, { input })).addPaymentMethod, "AddPaymentMethodSuccess").setupUrl;
  } catch (error) {
    showError(error.message);
  }
});
$("autopay").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const day = Number($("autopay-day").value) || null;
  const below = Number($("autopay-below").value) || null;
  const input = { enabled: true, packageId: $("autopay-package").value, dayOfMonth: day,
                  belowBalance: below, idempotencyKey: key() };
  try {
    expect((await graphql(SET_AUTOPAY, { input })).autopay, "AutopaySuccess");
    await renderAutopay();
  } catch (error) {
    showError(error.message);
  }
});
$("autopay-off").addEventListener("click", async () => {
  showError("");
  try {
    const input = { enabled: false, idempotencyKey: key() };
    expect((await graphql(SET_AUTOPAY, { input })).autopay, "AutopaySuccess");
    await renderAutopay();
  } catch (error) {
    showError(error.message);
  }
});
start();
