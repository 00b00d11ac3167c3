/**
 * The storefront's single page: a hash router (`#/orders/<id>` is the link in emails,
 * `#/admin` the admin page), the navigation's signed-in state, the cart badge and the
 * live stream's notifications. Every view renders into a fresh container, so a slow
 * view that finishes after the reader moved on writes into nothing visible.
 */

import {ApiError, currentUser, logout} from "./api.js";
import {count} from "./cart.js";
import {announce, errorBox, h, mount} from "./dom.js";
import {onLive, startLive, stopLive} from "./stream.js";
import {adminView} from "./views/admin.js";
import {
  forgotView, loginView, oidcView, registerView, resetView, verifyView,
} from "./views/auth.js";
import {cartView} from "./views/cart.js";
import {notificationsView} from "./views/notifications.js";
import {orderView} from "./views/order.js";
import {ordersView} from "./views/orders.js";
import {productView} from "./views/product.js";
import {shopView} from "./views/shop.js";

// SHOP_NAME, as the page's <meta name="application-name"> gives it (gateway/routes/web.py).
const SHOP_NAME = document.querySelector('meta[name="application-name"]')?.content || "Leaf & Bean";

const ROUTES = [
  {name: "shop", pattern: /^\/(?:products)?$/, view: shopView, title: "Shop"},
  {name: "shop", pattern: /^\/products\/([A-Za-z0-9][A-Za-z0-9._%-]{0,200})$/,
   view: productView, title: "Product"},
  {name: "cart", pattern: /^\/cart$/, view: cartView, title: "Cart"},
  {name: "login", pattern: /^\/login$/, view: loginView, title: "Log in"},
  {name: "login", pattern: /^\/oidc$/, view: oidcView, title: "Signing in"},
  {name: "register", pattern: /^\/register$/, view: registerView, title: "Register"},
  {name: "verify", pattern: /^\/verify$/, view: verifyView, title: "Confirm your email"},
  {name: "forgot", pattern: /^\/forgot$/, view: forgotView, title: "Forgot your password"},
  {name: "reset", pattern: /^\/reset$/, view: resetView, title: "Choose a new password"},
  {name: "orders", pattern: /^\/orders$/, view: ordersView, title: "Your orders", auth: true},
  {name: "orders", pattern: /^\/orders\/([0-9a-fA-F-]{36})$/, view: orderView, title: "Order",
   auth: true},
  {name: "notifications", pattern: /^\/notifications$/, view: notificationsView,
   title: "Notifications", auth: true},
  {name: "admin", view: adminView, title: "Admin", auth: "admin",  // admin.js: its sections
   pattern: /^\/admin(?:\/(products|orders|customers|clients|operations)(?:\/([0-9a-fA-F-]{36}))?)?$/},
];

let cleanup = null;
let firstRender = true;

export function navigate(path) {
  location.hash = `#${path}`;
}

function loginFirst(path) {
  navigate(`/login?next=${encodeURIComponent(path)}`);
}

async function render() {
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return;  // an in-page anchor, not a route
  const [path, queryString = ""] = hash.slice(1).split("?");
  const query = new URLSearchParams(queryString);
  const route = ROUTES.find((r) => r.pattern.test(path));
  cleanup?.();
  cleanup = null;
  const root = h("div");
  mount(document.getElementById("view"), root);
  updateNav(route?.name);
  if (!route) {
    document.title = `Not found · ${SHOP_NAME}`;
    mount(root, h("h1", {tabindex: -1}, "Page not found"),
          h("p", {}, h("a", {href: "#/"}, "Back to the shop")));
    return focusHeading(root);
  }
  document.title = `${route.title} · ${SHOP_NAME}`;
  const user = currentUser();
  if (route.auth && !user) return loginFirst(path);
  if (route.auth === "admin" && user.role !== "admin") {
    mount(root, h("h1", {tabindex: -1}, "Admin"),
          h("p", {class: "error"}, "This page is for administrators."));
    return focusHeading(root);
  }
  try {
    const params = path.match(route.pattern).slice(1);
    const pending = route.view(root, {params, query, navigate});
    focusHeading(root);
    const done = await pending;
    if (typeof done === "function") {
      if (root.isConnected) cleanup = done;
      else done();  // the reader already moved on
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      return location.hash.startsWith("#/login") ? undefined : loginFirst(path);
    }
    mount(root, h("h1", {tabindex: -1}, route.title), errorBox(err, {retry: render}));
  }
}

function focusHeading(root) {
  // Move focus to the new view's heading so keyboard and screen-reader users land on it;
  // not on the first load, where focus belongs to the page itself.
  const heading = root.querySelector("h1");
  if (heading && !firstRender) heading.focus();
  firstRender = false;
}

function updateNav(active) {
  const user = currentUser();
  for (const el of document.querySelectorAll("[data-show]")) {
    const show = el.dataset.show;
    el.hidden = show === "anon" ? Boolean(user)
      : show === "admin" ? user?.role !== "admin" : !user;
  }
  document.getElementById("who").textContent = user ? (user.name || user.email) : "";
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function updateCartBadge() {
  document.getElementById("cart-count").textContent = String(count());
}

function syncSession() {
  updateNav(ROUTES.find((r) => r.pattern.test((location.hash.slice(1) || "/").split("?")[0]))?.name);
  if (currentUser()) startLive();
  else stopLive();
}

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();  // "#main" would be taken for a route
  document.getElementById("main").focus();
});
document.getElementById("logout").addEventListener("click", async () => {
  await logout();
  announce("You are logged out.");
  navigate("/");
});
window.addEventListener("hashchange", render);
// A session that died under a view (a 401 at checkout, say): log in, then come back.
window.addEventListener("op:session-ended", () => {
  const [path] = (location.hash.slice(1) || "/").split("?");
  if (path === "/login") return;
  announce("Your session has ended: log in again to carry on (your cart is kept).", "error");
  navigate(`/login?next=${encodeURIComponent(path)}&expired=1`);
});
window.addEventListener("op:cart", updateCartBadge);
window.addEventListener("op:session", syncSession);
onLive((name, data) => {
  if (name === "notification") announce(`New notification: ${data.subject || data.kind}`);
});

updateCartBadge();
syncSession();
render();
