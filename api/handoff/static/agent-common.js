/*
 * What the agent console and the supervisor view share: calling the API with the agent's session token, and
 * signing in with the identity API (user ID and password, then a code from an MFA device, or setting up a
 * first authenticator app). The session token lives in sessionStorage (this tab only) and is sent as a
 * Bearer token; it never goes in a URL. Everything shown comes from the API as text (textContent only).
 */
(() => {
  "use strict";

  const TOKEN_KEY = "cbp.agent.session";
  const API = `${window.location.origin}/api/v1`;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const session = {
    get() {
      try {
        return window.sessionStorage.getItem(TOKEN_KEY);
      } catch (_) {
        return null;
      }
    },
    set(token) {
      try {
        if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
        else window.sessionStorage.removeItem(TOKEN_KEY);
      } catch (_) {
        /* private mode: signed in for this page only */
      }
    },
  };

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.detail) || `The service answered ${status}; try again.`);
      this.status = status;
      this.rule = body && body.rule;
    }
  }

  /** Call the API; `token` defaults to the agent's session. Resolves with the JSON body, rejects with ApiError. */
  async function api(path, { method = "GET", body, token } = {}) {
    const headers = { Accept: "application/json" };
    const bearer = token === undefined ? session.get() : token;
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (_) {
      throw new ApiError(0, { detail: "The console could not reach the service; check the connection and try again." });
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** A polite status line read by screen readers (and shown). */
  function announcer(element) {
    return (text) => {
      element.textContent = "";
      window.setTimeout(() => {
        element.textContent = text;
      }, 50);
    };
  }

  function showError(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }

  /**
   * The sign-in section: user ID and password, then a device and its code (or a first authenticator app).
   * Calls onSignedIn(agent) once an agent's session is stored; a supplier is told the console is for agents.
   */
  function mountSignIn(root, onSignedIn) {
    const error = h("p", { class: "error", role: "alert", id: "sign-in-error", hidden: true });
    const userId = h("input", { id: "user-id", name: "user_id", autocomplete: "username", required: true, "aria-describedby": "sign-in-error" });
    const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
    const passwordForm = h(
      "form",
      { novalidate: true, "aria-labelledby": "sign-in-title" },
      h("div", { class: "field" }, h("label", { for: "user-id" }, "User ID"), userId),
      h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password),
      h("button", { type: "submit" }, "Continue"),
    );
    const second = h("div", { hidden: true });
    root.replaceChildren(
      h("h2", { id: "sign-in-title" }, "Sign in"),
      h("p", {}, "Sign in with your IDM user ID and password, then a code from your MFA device."),
      error,
      passwordForm,
      second,
    );
    let signInToken = null;

    async function finish(sessionToken) {
      session.set(sessionToken);
      try {
        const agent = await api("/agent/me");
        onSignedIn(agent);
      } catch (exc) {
        if (exc.status === 403) {
          try {
            await api("/auth/sign-out", { method: "POST" });
          } catch (_) {
            /* the session is dropped here anyway */
          }
        }
        session.set(null);
        showError(error, exc.status === 403 ? "This console is for customer service agents only." : exc.message);
        second.hidden = true;
        passwordForm.hidden = false;
        userId.focus();
      }
    }

    passwordForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(error, "");
      if (!userId.value.trim() || !password.value) {
        showError(error, "Enter your user ID and your password.");
        (userId.value.trim() ? password : userId).focus();
        return;
      }
      try {
        const step = await api("/auth/sign-in", { method: "POST", body: { user_id: userId.value.trim(), password: password.value }, token: null });
        password.value = "";
        signInToken = step.sign_in_token;
        if (step.next_step === "signed_in" && step.session) return finish(step.session.session_token);
        passwordForm.hidden = true;
        if (step.next_step === "verify_code") showDevices(step);
        else showSetUp(step);
      } catch (exc) {
        showError(error, exc.message);
        password.value = "";
        password.focus();
      }
    });

    function codeField(id) {
      return h("input", { id, name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "7", required: true, "aria-describedby": "sign-in-error" });
    }

    function backButton() {
      return h("button", { type: "button", class: "secondary", onclick: () => mountSignIn(root, onSignedIn) }, "Start again");
    }

    function showDevices(step) {
      const radios = step.devices.map((device, index) =>
        h(
          "div",
          { class: "choice" },
          h("input", { type: "radio", name: "device", id: `device-${device.id}`, value: String(device.id), checked: index === 0 }),
          h("label", { for: `device-${device.id}` }, device.sent_to ? `${device.kind_name} (${device.sent_to})` : device.kind_name),
        ),
      );
      const code = codeField("code");
      const sendCode = h("button", { type: "button", class: "secondary" }, "Send me a code");
      const sent = h("p", { class: "hint", role: "status" });
      const selected = () => step.devices.find((d) => String(d.id) === (second.querySelector("input[name=device]:checked") || {}).value);
      const refresh = () => {
        const device = selected();
        sendCode.hidden = !device || device.kind === "google_authenticator" || device.kind === "okta_verify";
      };
      const form = h(
        "form",
        { novalidate: true },
        h("fieldset", { class: "field" }, h("legend", {}, "Your MFA device"), radios),
        sendCode,
        sent,
        h("div", { class: "field" }, h("label", { for: "code" }, "6-digit code"), code),
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Verify and sign in"), backButton()),
      );
      form.addEventListener("change", refresh);
      sendCode.addEventListener("click", async () => {
        showError(error, "");
        try {
          const answer = await api("/auth/mfa/challenge", { method: "POST", body: { device_id: selected().id }, token: signInToken });
          sent.textContent = answer.message;
          code.focus();
        } catch (exc) {
          showError(error, exc.message);
        }
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        showError(error, "");
        try {
          const answer = await api("/auth/mfa/verify", { method: "POST", body: { device_id: selected().id, code: code.value }, token: signInToken });
          code.value = "";
          await finish(answer.session.session_token);
        } catch (exc) {
          code.value = "";
          showError(error, exc.message);
          code.focus();
        }
      });
      second.replaceChildren(h("p", {}, step.message), form);
      second.hidden = false;
      refresh();
      code.focus();
    }

    async function showSetUp(step) {
      second.replaceChildren(h("p", {}, step.message));
      second.hidden = false;
      let enrollment;
      try {
        enrollment = await api("/auth/mfa/enrollments", { method: "POST", body: { kind: "google_authenticator" }, token: signInToken });
      } catch (exc) {
        showError(error, exc.message);
        second.append(backButton());
        return;
      }
      const code = codeField("setup-code");
      const form = h(
        "form",
        { novalidate: true },
        h("p", {}, "Add this key to an authenticator app (Google Authenticator or Okta Verify), then type the code it shows."),
        enrollment.authenticator && enrollment.authenticator.qr_code
          ? h("img", { src: enrollment.authenticator.qr_code, alt: "QR code of the key for your authenticator app", width: "180", height: "180" })
          : null,
        h("p", {}, "Key: ", h("code", {}, enrollment.authenticator ? enrollment.authenticator.secret : "")),
        h("div", { class: "field" }, h("label", { for: "setup-code" }, "6-digit code"), code),
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Verify and sign in"), backButton()),
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        showError(error, "");
        try {
          const result = await api(`/auth/mfa/enrollments/${enrollment.enrollment_id}/verify`, { method: "POST", body: { code: code.value }, token: signInToken });
          await finish(result.session.session_token);
        } catch (exc) {
          code.value = "";
          showError(error, exc.message);
          code.focus();
        }
      });
      second.append(form);
      code.focus();
    }

    userId.focus();
  }

  async function signOut() {
    try {
      await api("/auth/sign-out", { method: "POST" });
    } catch (_) {
      /* signed out locally either way */
    }
    session.set(null);
  }

  function formatWait(seconds) {
    if (seconds < 60) return "under a minute";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    const hours = Math.floor(minutes / 60);
    return `${hours} h ${minutes % 60} min`;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  window.AgentCommon = { h, api, ApiError, session, announcer, showError, mountSignIn, signOut, formatWait, formatTime };
})();
