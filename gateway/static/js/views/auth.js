/** Log in and register, the two forms that start a session; and the welcome mail's link. */

import {
  forgotPassword, login, oidcProviders, oidcSignIn, register, resetPassword, verifyEmail,
} from "../api.js";
import {announce, errorBox, h, mount} from "../dom.js";

function field(id, label, attrs, hint) {
  const hintId = hint ? `${id}-hint` : null;
  return h("div", {class: "field"},
    h("label", {for: id}, label),
    h("input", {id, name: id, ...attrs, "aria-describedby": hintId}),
    hint ? h("span", {class: "hint", id: hintId}, hint) : null);
}

/** Where to go after logging in: `?next=` if it is one of ours, else the shop. */
function nextPath(query) {
  const next = query.get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function submitting(form, message, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  mount(message);
  try {
    await work();
  } catch (err) {
    mount(message, errorBox(err));
  } finally {
    button.disabled = false;
  }
}

export function loginView(root, {query, navigate}) {
  const message = h("div");
  const form = h("form", {class: "form-card", "aria-labelledby": "login-title"},
    field("login-email", "Email", {type: "email", autocomplete: "username", required: true}),
    field("login-password", "Password", {type: "password", autocomplete: "current-password",
                                         required: true}),
    message,
    h("div", {class: "actions"}, h("button", {type: "submit"}, "Log in"),
      h("a", {href: "#/register"}, "New here? Register"),
      h("a", {href: "#/forgot"}, "Forgot your password?")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, message, async () => {
      const user = await login(form.elements["login-email"].value.trim(),
                               form.elements["login-password"].value);
      announce(`Welcome, ${user.name || user.email}.`);
      navigate(nextPath(query));
    });
  });
  const why = query.get("expired")
    ? h("p", {class: "notice", id: "session-ended"}, "Your session has ended. Log in again " +
        "and you will be taken back to where you were; your cart is kept.")
    : null;
  // A provider's sign-in that failed comes back here with a reason code (never text of
  // the URL's own: a link could put any words on this page).
  const failed = query.get("error") ? h("p", {class: "error", role: "alert",
    id: "oidc-error"}, `Signing in did not work: ${
      SIGN_IN_FAILURES[query.get("error")] || SIGN_IN_FAILURES.failed}`) : null;
  const providers = h("div", {class: "actions oidc-providers"});
  mount(root, h("h1", {tabindex: -1, id: "login-title"}, "Log in"), why, failed, form,
        providers);
  showProviders(providers);
}

// The reasons the gateway gives for a provider's sign-in that failed (routes/oidc.py).
const SIGN_IN_FAILURES = {
  cancelled: "it was cancelled at the provider.",
  state_mismatch: "it took too long, or was started in another tab or browser. " +
    "Please try again.",
  email_unverified: "the provider has not verified your email address. Log in with your " +
    "password, or verify the address with the provider first.",
  no_email: "the provider did not share your email address.",
  admin_account: "an admin account logs in with its password.",
  unavailable: "the provider cannot be reached right now. Please try again in a moment.",
  failed: "the provider's answer could not be accepted. Please try again.",
};

/** "Sign in with Google" (and any other configured provider): only when set up. */
async function showProviders(box) {
  let items = [];
  try {
    items = await oidcProviders();
  } catch {
    return;  // the password form still works; the buttons are a convenience
  }
  mount(box, ...items.map((provider) => h("a", {
    class: "button oidc-button", href: provider.login_url, id: `oidc-${provider.name}`,
  }, `Sign in with ${provider.label}`)));
}

/** `#/oidc?code=...`: where a provider's sign-in lands; the code is spent at once. */
export async function oidcView(root, {query, navigate}) {
  const status = h("p", {role: "status"}, "Signing you in…");
  mount(root, h("h1", {tabindex: -1}, "Signing in"), status);
  const code = query.get("code") || "";
  history.replaceState(null, "", "#/oidc");  // the code is spent: not kept in history
  try {
    const user = await oidcSignIn(code);
    announce(`Welcome, ${user.name || user.email}.`);
    navigate("/");
  } catch (err) {
    mount(root, h("h1", {tabindex: -1}, "Signing in"), errorBox(err),
          h("p", {}, h("a", {href: "#/login"}, "Back to log in")));
  }
}

export function registerView(root, {query, navigate}) {
  const message = h("div");
  const form = h("form", {class: "form-card", "aria-labelledby": "register-title"},
    field("register-name", "Name", {type: "text", autocomplete: "name", maxlength: 200},
          "Optional."),
    field("register-email", "Email", {type: "email", autocomplete: "email", required: true}),
    field("register-password", "Password", {type: "password", autocomplete: "new-password",
                                            minlength: 8, required: true},
          "At least 8 characters."),
    message,
    h("div", {class: "actions"}, h("button", {type: "submit"}, "Create account"),
      h("a", {href: "#/login"}, "Have an account? Log in")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, message, async () => {
      const email = form.elements["register-email"].value.trim();
      const password = form.elements["register-password"].value;
      await register(email, password, form.elements["register-name"].value.trim());
      const user = await login(email, password);
      announce(`Welcome, ${user.name || user.email}: your account is ready.`);
      navigate(nextPath(query));
    });
  });
  mount(root, h("h1", {tabindex: -1, id: "register-title"}, "Create an account"), form);
}

/** `#/verify?token=...`, the welcome mail's link: confirms the address, once. */
export async function verifyView(root, {query}) {
  const status = h("p", {role: "status"}, "Confirming your email address…");
  mount(root, h("h1", {tabindex: -1}, "Confirm your email"), status);
  try {
    await verifyEmail(query.get("token") || "");
    mount(status, "Thank you: your email address is confirmed.");
    announce("Your email address is confirmed.");
  } catch (err) {
    mount(root, h("h1", {tabindex: -1}, "Confirm your email"),
          h("p", {}, "This link was already used, has expired, or is not one we sent."),
          errorBox(err), h("p", {}, h("a", {href: "#/"}, "Back to the shop")));
  }
}

/** `#/forgot`: ask for a reset link by mail. */
export function forgotView(root) {
  const message = h("div");
  const form = h("form", {class: "form-card", "aria-labelledby": "forgot-title"},
    field("forgot-email", "Email", {type: "email", autocomplete: "username", required: true}),
    message,
    h("div", {class: "actions"}, h("button", {type: "submit"}, "Mail me a link")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, message, async () => {
      await forgotPassword(form.querySelector("#forgot-email").value);
      mount(message, h("p", {role: "status"},
        "If an account has this address, a link to choose a new password is on its way."));
    });
  });
  mount(root, h("h1", {id: "forgot-title", tabindex: -1}, "Forgot your password?"), form);
}

/** `#/reset?token=...`, the reset mail's link: choose a new password. */
export function resetView(root, {query, navigate}) {
  const message = h("div");
  const form = h("form", {class: "form-card", "aria-labelledby": "reset-title"},
    field("reset-password", "New password", {type: "password", autocomplete: "new-password",
                                             required: true, minlength: 8},
          "At least 8 characters."),
    message,
    h("div", {class: "actions"}, h("button", {type: "submit"}, "Set the new password")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, message, async () => {
      await resetPassword(query.get("token") || "",
                          form.querySelector("#reset-password").value);
      announce("Your password is changed. Log in with it.");
      navigate("/login");
    });
  });
  mount(root, h("h1", {id: "reset-title", tabindex: -1}, "Choose a new password"), form);
}
