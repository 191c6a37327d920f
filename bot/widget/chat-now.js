/*
 * Chat Now — the DMEPOS Competitive Bidding Program's chat widget.
 *
 * Embed it in any page with one tag:   <script src="https://<api origin>/widget/chat-now.js" defer></script>
 * It adds a <chat-now-widget> element (a web component with its own shadow root: its styles do not
 * leak out and the page's do not leak in) showing a "Chat Now" button.
 *
 * It talks only to the API that served it (see bot/PROTOCOL.md and api/chat/):
 *   - pre-chat questions from /api/v1/chat/prechat, answers to POST /api/v1/chat/conversations;
 *   - the conversation over a WebSocket (/api/v1/chat/conversations/{id}/ws), with an HTTP fallback
 *     (POST .../messages, long-poll GET .../messages?after=<seq>&wait=25);
 *   - passwords and one-time codes straight to the identity API (/api/v1/auth/...), never into the chat;
 *   - files to /api/v1/chat/conversations/{id}/files, with progress and an Idempotency-Key.
 * The conversation id and its client token are kept in sessionStorage, so the chat survives a reload;
 * every message has a server sequence number, so a reconnect fetches what was missed, never twice.
 */
(() => {
  "use strict";

  if (window.customElements.get("chat-now-widget")) return;

  const SCRIPT = document.currentScript;
  const ORIGIN = SCRIPT && SCRIPT.src ? new URL(SCRIPT.src, window.location.href).origin : window.location.origin;
  const API = `${ORIGIN}/api/v1`;
  const WS_ORIGIN = ORIGIN.replace(/^http/, "ws");
  const KEYS = { chat: "cbp.chat.v1", outbox: "cbp.chat.outbox.v1", session: "cbp.sessionToken" };
  const MAX_FILE_BYTES = 52428800; // a file of this size or larger is refused ("under 50 MB")
  const PDF_HEADER_WINDOW = 1024; // PDF readers accept the %PDF- header anywhere in the first 1024 bytes
  const WS_FAILURES_BEFORE_HTTP = 3;
  const ICON_CHAT =
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';
  const ICON_CLIP =
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"/></svg>';

  // --- small helpers ------------------------------------------------------------------------------

  const store = {
    get(key) {
      try {
        return JSON.parse(window.sessionStorage.getItem(key) || "null");
      } catch (_) {
        return null;
      }
    },
    set(key, value) {
      try {
        if (value === null || value === undefined) window.sessionStorage.removeItem(key);
        else window.sessionStorage.setItem(key, JSON.stringify(value));
      } catch (_) {
        /* private mode: the chat still works, it just does not survive a reload */
      }
    },
  };

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID().replace(/-/g, "");
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  function formatBytes(bytes) {
    if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
    if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${bytes} bytes`;
  }

  /** Text with [links](https://...) and bare https:// addresses as links; everything else as plain text. */
  function richText(text) {
    const fragment = document.createDocumentFragment();
    const pattern = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+|\/[^\s)]*)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) fragment.append(text.slice(last, match.index));
      const href = match[2] || match[3];
      const label = match[1] || match[3];
      fragment.append(h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label));
      last = pattern.lastIndex;
    }
    if (last < text.length) fragment.append(text.slice(last));
    return fragment;
  }

  /** The light phone mask: 1 (202) 555-0143 as the digits come; anything longer is left as typed. */
  function maskUsPhone(value) {
    let digits = value.replace(/\D/g, "");
    if (digits.startsWith("1")) digits = digits.slice(1); // the country code; US area codes never start with 1
    if (!digits) return "";
    if (digits.length > 10) return value;
    const area = digits.slice(0, 3);
    const exchange = digits.slice(3, 6);
    const line = digits.slice(6);
    if (digits.length <= 3) return `1 (${area}`;
    if (digits.length <= 6) return `1 (${area}) ${exchange}`;
    return `1 (${area}) ${exchange}-${line}`;
  }

  function usPhoneDigits(value) {
    let digits = value.replace(/\D/g, "");
    if (digits.length === 11 && digits.startsWith("1")) digits = digits.slice(1);
    return digits;
  }

  /** The same rules as the server (api/chat/prechat.py), as far as a browser can tell. */
  function checkField(field, raw) {
    const value = raw.trim().replace(/\s+/g, " ");
    if (!value) return field.required ? field.messages.required || field.messages.invalid : null;
    if (value.length > field.max_length) return field.messages.invalid;
    switch (field.rule) {
      case "name":
        return /\p{L}/u.test(value) ? null : field.messages.invalid;
      case "email":
        return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) ? null : field.messages.invalid;
      case "us_phone": {
        const digits = usPhoneDigits(value);
        return digits.length === 10 && /^[2-9]\d{2}[2-9]/.test(digits) ? null : field.messages.invalid;
      }
      case "bidder_number":
        return /^[0-9]{1,16}$/.test(value.replace(/ /g, "")) ? null : field.messages.invalid;
      case "choice":
        return field.options.some((o) => o.value === value) ? null : field.messages.invalid;
      default:
        return null;
    }
  }

  async function api(path, { method = "GET", body, token, chatToken, headers = {} } = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (chatToken) init.headers["X-Chat-Token"] = chatToken;
    const response = await fetch(`${API}${path}`, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data: data || {} };
  }

  // --- the transport: WebSocket first, HTTP long-poll as the fallback ------------------------------------

  class Transport {
    constructor(widget, chat) {
      this.widget = widget;
      this.chat = chat; // {conversationId, clientToken}
      this.ws = null;
      this.mode = "WebSocket" in window && typeof window.WebSocket === "function" ? "ws" : "http";
      this.failures = 0;
      this.stopped = false;
      this.ready = false;
      this.timer = null;
      this.pollAbort = null;
    }

    start() {
      this.stopped = false;
      if (this.mode === "ws") this.openSocket();
      else this.poll();
    }

    stop() {
      this.stopped = true;
      this.ready = false;
      clearTimeout(this.timer);
      if (this.ws) {
        this.ws.onclose = null;
        this.ws.close(1000);
        this.ws = null;
      }
      if (this.pollAbort) this.pollAbort.abort();
    }

    openSocket() {
      let ws;
      try {
        ws = new WebSocket(`${WS_ORIGIN}/api/v1/chat/conversations/${encodeURIComponent(this.chat.conversationId)}/ws`);
      } catch (_) {
        this.switchToHttp();
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        ws.send(JSON.stringify({ type: "hello", token: this.chat.clientToken, after: this.widget.lastSeq }));
      };
      ws.onmessage = (event) => {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch (_) {
          return;
        }
        if (frame.type === "ready") {
          this.failures = 0;
          this.ready = true;
          this.widget.onReady(frame.conversation, frame.typing);
          this.widget.flushOutbox();
        } else this.widget.onFrame(frame);
      };
      ws.onclose = (event) => {
        this.ready = false;
        this.ws = null;
        if (this.stopped) return;
        if (event.code === 4404 || event.code === 4401) {
          this.widget.onConversationLost();
          return;
        }
        this.failures += 1;
        this.widget.onDisconnected();
        if (this.failures >= WS_FAILURES_BEFORE_HTTP) {
          this.switchToHttp();
          return;
        }
        const delay = Math.min(15000, 500 * 2 ** this.failures);
        this.timer = setTimeout(() => this.openSocket(), delay);
      };
    }

    switchToHttp() {
      this.mode = "http";
      this.poll();
    }

    async poll() {
      let delay = 0;
      while (!this.stopped) {
        if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.stopped) return;
        this.pollAbort = new AbortController();
        try {
          const response = await fetch(
            `${API}/chat/conversations/${encodeURIComponent(this.chat.conversationId)}/messages?after=${this.widget.lastSeq}&wait=${this.ready ? 25 : 0}`,
            { headers: { "X-Chat-Token": this.chat.clientToken, Accept: "application/json" }, signal: this.pollAbort.signal },
          );
          if (response.status === 404 || response.status === 401) {
            this.widget.onConversationLost();
            return;
          }
          if (!response.ok) throw new Error(String(response.status));
          const page = await response.json();
          if (!this.ready) {
            this.ready = true;
            this.widget.onReady({ status: page.status, last_seq: page.last_seq }, page.typing);
            this.widget.flushOutbox();
          }
          for (const message of page.messages) this.widget.onFrame({ type: "message", message });
          this.widget.onFrame({ type: "typing", on: page.typing });
          this.widget.onFrame({ type: "status", status: page.status });
          delay = 0;
        } catch (error) {
          if (this.stopped) return;
          this.ready = false;
          this.widget.onDisconnected();
          delay = Math.min(15000, (delay || 1000) * 2);
        }
      }
    }

    /** Send a user turn; false when it must wait in the outbox for the connection. */
    send(turn) {
      if (this.mode === "ws") {
        if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
        this.ws.send(JSON.stringify({ type: "message", ...turn }));
        return true;
      }
      if (!this.ready) return false;
      this.postTurn(turn);
      return true;
    }

    async postTurn(turn) {
      try {
        const result = await api(`/chat/conversations/${encodeURIComponent(this.chat.conversationId)}/messages`, {
          method: "POST",
          body: turn,
          chatToken: this.chat.clientToken,
        });
        if (result.ok) {
          this.widget.onFrame({ type: "ack", client_message_id: turn.client_message_id, seq: result.data.message.seq });
          this.widget.onFrame({ type: "message", message: result.data.message });
        } else if (result.status >= 500 || result.data.rule === "retry") {
          this.widget.onDisconnected(); // keep it in the outbox; it is sent again when the poll answers
          this.ready = false;
        } else {
          this.widget.onFrame({ type: "error", client_message_id: turn.client_message_id, ...result.data });
        }
      } catch (_) {
        this.ready = false;
        this.widget.onDisconnected();
      }
    }
  }

  // --- the component -------------------------------------------------------------------------------------

  class ChatNowWidget extends HTMLElement {
    constructor() {
      super();
      this.root = this.attachShadow({ mode: "open" });
      this.config = null;
      this.chat = null; // {conversationId, clientToken, open}
      this.transport = null;
      this.lastSeq = 0;
      this.rendered = new Map(); // seq -> element: nothing is shown twice
      this.pending = new Map(); // client_message_id -> element of a message not yet stored
      this.outbox = store.get(KEYS.outbox) || [];
      this.status = "bot";
      this.signedIn = false;
      this.backlogUntil = 0; // messages up to this seq were stored before this page loaded
      this.lastUserSeq = 0;
      this.actedOn = new Set(); // seqs of custom payloads already acted on
      this.customMessages = new Map(); // seq -> message with a custom payload (bot/PROTOCOL.md)
      this.signIn = null; // the sign-in in progress: {token, devices, deviceId, reason}
      this.secure = null; // the secure-input request being answered
      this.upload = null; // the file upload in progress
      this.prechatAnswers = null;
      this.lastAnnounced = "";
      this.handoff = null; // the latest queue status (GET .../queue): queued, with_agent, ended...
      this.handoffAsked = 0; // answers to older queue reads are ignored
      this.agentName = null;
      this.typingOn = false; // the agent was told "the supplier is typing"
      this.typingTimer = null;
    }

    connectedCallback() {
      if (this.built) return;
      this.built = true;
      const css = h("link", { rel: "stylesheet", href: `${ORIGIN}/widget/chat-now.css` });
      this.root.append(css);
      this.build();
      css.addEventListener("load", () => this.launcher.removeAttribute("hidden"));
      css.addEventListener("error", () => this.launcher.removeAttribute("hidden"));
      this.chat = store.get(KEYS.chat);
      if (this.chat && this.chat.open) this.open({ focus: false });
    }

    // ---- structure

    build() {
      this.launcher = h(
        "button",
        { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "cbp-chat-panel", hidden: true },
        h("span", { class: "svg-holder" }),
        "Chat Now",
      );
      this.launcher.querySelector(".svg-holder").outerHTML = ICON_CHAT;
      this.launcher.addEventListener("click", () => this.open({ focus: true }));

      this.status_ = h("div", { class: "sr-only", role: "status", "aria-live": "polite", "aria-atomic": "true" });
      this.heading = h("h2", { id: "cbp-chat-title" }, "Chat Now");
      this.menuButton = h(
        "button",
        { type: "button", "aria-expanded": "false", "aria-controls": "cbp-chat-menu", hidden: true, onclick: () => this.toggleMenu() },
        "Menu",
      );
      this.closeButton = h(
        "button",
        { type: "button", "aria-label": "Close chat", onclick: () => this.close() },
        h("span", { class: "icon", "aria-hidden": "true" }, "\u00d7"),
      );
      this.menu = h("ul", { class: "menu", id: "cbp-chat-menu", hidden: true });
      this.body = h("div", { class: "body" });
      this.panel = h(
        "section",
        { class: "panel", id: "cbp-chat-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "cbp-chat-title", hidden: true },
        h("div", { class: "head" }, this.heading, this.menuButton, this.closeButton),
        this.menu,
        this.body,
      );
      this.panel.addEventListener("keydown", (event) => this.onKeydown(event));
      this.root.append(this.launcher, this.panel, this.status_);
    }

    announce(text) {
      // Re-announce the same words too (e.g. "typing" twice) by clearing first.
      this.status_.textContent = "";
      window.setTimeout(() => {
        this.status_.textContent = text;
      }, 60);
      this.lastAnnounced = text;
    }

    onKeydown(event) {
      if (event.key !== "Escape") return;
      event.stopPropagation();
      if (!this.menu.hidden) {
        this.closeMenu();
        this.menuButton.focus();
        return;
      }
      this.close();
    }

    async open({ focus }) {
      this.panel.hidden = false;
      this.launcher.hidden = true;
      this.launcher.setAttribute("aria-expanded", "true");
      if (this.chat) {
        this.chat.open = true;
        store.set(KEYS.chat, this.chat);
        if (!this.transport) this.showChat();
        if (focus) this.focusComposer();
        return;
      }
      if (!this.form) await this.showPrechat();
      if (focus && this.form) {
        const first = this.form.querySelector("input, select");
        if (first) first.focus();
      }
    }

    close() {
      this.closeMenu();
      this.panel.hidden = true;
      this.launcher.hidden = false;
      this.launcher.setAttribute("aria-expanded", "false");
      if (this.chat) {
        this.chat.open = false;
        store.set(KEYS.chat, this.chat);
      }
      this.launcher.focus();
    }

    // ---- the menu

    toggleMenu() {
      if (this.menu.hidden) this.openMenu();
      else this.closeMenu();
    }

    openMenu() {
      const items = [];
      if (this.signedIn) items.push(h("li", {}, h("button", { type: "button", onclick: () => this.menuAction(() => this.signOut()) }, "Sign out")));
      else items.push(h("li", {}, h("button", { type: "button", onclick: () => this.menuAction(() => this.openSignIn("menu")) }, "Sign in")));
      items.push(h("li", {}, h("button", { type: "button", onclick: () => this.menuAction(() => this.openAttach({ requested: false })) }, "Attach a PDF")));
      if (this.status !== "closed") items.push(h("li", {}, h("button", { type: "button", onclick: () => this.menuAction(() => this.endChat()) }, "End chat")));
      items.push(h("li", {}, h("button", { type: "button", onclick: () => this.menuAction(() => this.startOver()) }, "Start a new chat")));
      this.menu.replaceChildren(...items);
      this.menu.hidden = false;
      this.menuButton.setAttribute("aria-expanded", "true");
      this.menu.querySelector("button").focus();
    }

    closeMenu() {
      this.menu.hidden = true;
      this.menuButton.setAttribute("aria-expanded", "false");
    }

    menuAction(fn) {
      this.closeMenu();
      fn();
    }

    // ---- pre-chat form

    async showPrechat(notice) {
      this.menuButton.hidden = true;
      this.heading.textContent = "Chat Now";
      if (!this.config) {
        const result = await api("/chat/prechat").catch(() => null);
        if (!result || !result.ok) {
          this.body.replaceChildren(
            h("div", { class: "scroll" }, h("p", { class: "error", role: "alert" }, "Chat Now cannot start right now. Please try again in a few minutes, or call 877-577-5331.")),
          );
          return;
        }
        this.config = result.data;
      }
      const config = this.config;
      this.heading.textContent = config.title;
      this.summary = h("div", { class: "summary", id: "cbp-prechat-summary", tabindex: "-1", hidden: true });
      this.form = h("form", { class: "prechat", novalidate: true, "aria-labelledby": "cbp-chat-title" });
      this.form.append(this.summary);
      if (notice) this.form.append(h("p", { class: "event warn" }, notice));
      this.form.append(h("p", { class: "intro" }, config.intro));
      this.fields = new Map();
      for (const field of config.fields) this.form.append(this.buildField(field));
      this.submitButton = h("button", { type: "submit", class: "primary" }, config.submit_label || "Start chat");
      this.form.append(h("div", { class: "actions" }, this.submitButton));
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.submitPrechat();
      });
      this.body.replaceChildren(h("div", { class: "scroll" }, this.form));
      this.prefill();
    }

    buildField(field) {
      const id = `cbp-f-${field.name}`;
      const described = [];
      const label = h("label", { for: id }, field.label, field.required ? [" ", h("span", { class: "req", "aria-hidden": "true" }, "*")] : null);
      let hint = null;
      if (field.hint) {
        hint = h("p", { class: "hint", id: `${id}-hint` }, field.hint);
        described.push(hint.id);
      }
      const error = h("p", { class: "error", id: `${id}-error`, hidden: true });
      let input;
      const common = {
        id,
        name: field.name,
        autocomplete: field.autocomplete || "off",
        "aria-required": field.required ? "true" : null,
        "aria-describedby": described.join(" ") || null,
      };
      if (field.type === "select") {
        input = h("select", common, h("option", { value: "" }, field.placeholder || "Choose one"), field.options.map((o) => h("option", { value: o.value }, o.label)));
      } else {
        input = h("input", {
          ...common,
          type: field.type === "email" ? "email" : field.type === "tel" ? "tel" : "text",
          inputmode: field.inputmode || null,
          maxlength: field.rule === "us_phone" ? 40 : field.max_length,
          placeholder: field.placeholder || null,
          spellcheck: field.type === "text" && field.rule === "text" ? null : "false",
        });
        if (field.rule === "us_phone") {
          input.addEventListener("input", () => {
            if (input.selectionStart === input.value.length) input.value = maskUsPhone(input.value);
          });
          input.addEventListener("blur", () => {
            input.value = maskUsPhone(input.value);
          });
        }
      }
      input.addEventListener("change", () => {
        if (input.getAttribute("aria-invalid") === "true") this.setFieldError(field.name, checkField(field, input.value));
      });
      this.fields.set(field.name, { field, input, error, hint });
      return h("div", { class: "field" }, label, hint, input, error);
    }

    setFieldError(name, message) {
      const entry = this.fields.get(name);
      if (!entry) return;
      const ids = [];
      if (entry.hint) ids.push(entry.hint.id);
      if (message) {
        entry.error.textContent = message;
        entry.error.hidden = false;
        entry.input.setAttribute("aria-invalid", "true");
        ids.unshift(entry.error.id);
      } else {
        entry.error.textContent = "";
        entry.error.hidden = true;
        entry.input.removeAttribute("aria-invalid");
      }
      if (ids.length) entry.input.setAttribute("aria-describedby", ids.join(" "));
      else entry.input.removeAttribute("aria-describedby");
    }

    showErrors(errors) {
      for (const name of this.fields.keys()) this.setFieldError(name, null);
      const named = errors.filter((e) => this.fields.has(e.field));
      for (const { field, message } of named) this.setFieldError(field, message);
      if (!errors.length) {
        this.summary.hidden = true;
        return;
      }
      const count = errors.length === 1 ? "1 answer needs a fix" : `${errors.length} answers need a fix`;
      const list = h("ul", {}, errors.map((e) => h("li", {}, e.message)));
      this.summary.replaceChildren(h("p", {}, `${count}:`), list);
      this.summary.hidden = false;
      this.announce(`${count}. ${errors[0].message}`);
      const first = named.length ? this.fields.get(named[0].field).input : this.summary;
      first.focus();
    }

    async prefill() {
      const token = store.get(KEYS.session);
      const known = Object.assign({}, this.prechatAnswers || {});
      if (token) {
        const me = await api("/me", { token }).catch(() => null);
        if (me && me.ok) {
          const bidder = (me.data.bidders || [])[0] || {};
          Object.assign(known, {
            first_name: me.data.first_name,
            last_name: me.data.last_name,
            organization: bidder.organization,
            bidder_number: bidder.bidder_number,
          });
          this.signedIn = true;
        } else if (me && me.status === 401) {
          store.set(KEYS.session, null);
        }
      }
      for (const { field, input } of this.fields.values()) {
        const value = known[field.prefill || field.name];
        if (value && !input.value) input.value = field.rule === "us_phone" ? maskUsPhone(value) : value;
      }
    }

    async submitPrechat() {
      const answers = {};
      const errors = [];
      for (const { field, input } of this.fields.values()) {
        answers[field.name] = input.value.trim() || null;
        const problem = checkField(field, input.value);
        if (problem) errors.push({ field: field.name, message: problem });
      }
      if (errors.length) {
        this.showErrors(errors); // nothing is sent until every required answer is valid
        return;
      }
      this.showErrors([]);
      this.submitButton.disabled = true;
      this.announce("Starting your chat.");
      let result;
      try {
        result = await api("/chat/conversations", { method: "POST", body: { prechat: answers } });
      } catch (_) {
        result = { ok: false, status: 0, data: { detail: "Chat Now could not reach the server; check your connection and try again." } };
      }
      this.submitButton.disabled = false;
      if (!result.ok) {
        const list = result.data.errors && result.data.errors.length ? result.data.errors : [{ field: "request", message: result.data.detail || "The chat could not start; please try again." }];
        this.showErrors(list);
        return;
      }
      this.prechatAnswers = answers;
      this.chat = { conversationId: result.data.conversation_id, clientToken: result.data.client_token, open: true };
      store.set(KEYS.chat, this.chat);
      store.set(KEYS.outbox, null);
      this.outbox = [];
      const session = store.get(KEYS.session);
      if (session) {
        // The portal already knows this supplier: link the new chat to the session.
        const bound = await api("/chat-bindings", { method: "POST", body: { conversation_id: this.chat.conversationId }, token: session }).catch(() => null);
        if (!bound || !bound.ok) store.set(KEYS.session, null);
      }
      this.form = null;
      this.showChat();
      this.focusComposer();
    }

    // ---- the chat view

    showChat() {
      this.menuButton.hidden = false;
      this.heading.textContent = (this.config && this.config.title) || "DMEPOS CBP Web Chat";
      this.rendered.clear();
      this.pending.clear();
      this.customMessages.clear();
      this.actedOn.clear();
      this.lastSeq = 0;
      this.lastUserSeq = 0;
      this.backlogUntil = Number.MAX_SAFE_INTEGER; // until `ready` says where the backlog ends
      this.banner = h("p", { class: "banner", role: "note", hidden: true });
      this.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Chat messages", tabindex: "0" });
      this.typing = h("div", { class: "typing", hidden: true }, "The assistant is typing", h("span", { class: "dots", "aria-hidden": "true" }, h("span"), h("span"), h("span")));
      this.attachArea = h("div", { class: "attach", hidden: true });
      this.handoffStatus = h("p", { class: "handoff-status" });
      this.handoffArea = h("div", { class: "handoff", hidden: true });
      this.handoffBar = h("div", { class: "handoff-bar" }, this.handoffStatus, this.handoffArea);
      this.handoff = null;
      this.agentName = null;
      this.signInArea = h("div", { class: "scroll signin", hidden: true });
      this.chatArea = h("div", { class: "body" }, this.banner, this.log, this.typing, this.handoffBar, this.attachArea, this.buildComposer());
      this.body.replaceChildren(this.chatArea, this.signInArea);
      for (const turn of this.outbox) this.showPending(turn);
      if (this.transport) this.transport.stop();
      this.transport = new Transport(this, this.chat);
      this.transport.start();
    }

    buildComposer() {
      this.clip = h("button", { type: "button", class: "icon-button", "aria-label": "Attach a PDF", onclick: () => this.openAttach({ requested: false }) });
      this.clip.innerHTML = ICON_CLIP;
      this.inputLabel = h("label", { for: "cbp-chat-input", class: "sr-only" }, "Message");
      this.input = h("textarea", { id: "cbp-chat-input", rows: "1", autocomplete: "off", placeholder: "Type your message", maxlength: "2000" });
      this.input.addEventListener("input", () => this.tellAgentTyping());
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.composer.requestSubmit();
        }
      });
      this.secureInput = h("input", { id: "cbp-chat-secure", type: "password", autocomplete: "one-time-code", inputmode: "numeric", maxlength: "12", hidden: true });
      this.secureLabel = h("label", { for: "cbp-chat-secure", class: "secure-label", hidden: true }, "Secure one-time code");
      this.sendButton = h("button", { type: "submit", class: "primary" }, "Send");
      this.secureCancel = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => this.leaveSecureMode({ outcome: null }) }, "Cancel");
      this.secureNote = h("p", { class: "secure-note", id: "cbp-secure-note", hidden: true }, "Secure entry: the code goes to the sign-in service, not into the chat.");
      this.composer = h(
        "form",
        { class: "composer", "aria-label": "Send a message" },
        this.clip,
        h("div", { class: "grow" }, this.inputLabel, this.secureLabel, this.input, this.secureInput),
        this.secureCancel,
        this.sendButton,
      );
      this.composer.addEventListener("submit", (event) => {
        event.preventDefault();
        if (this.secure) this.submitSecure();
        else this.submitTyped();
      });
      return h("div", {}, this.secureNote, this.composer);
    }

    focusComposer() {
      window.setTimeout(() => {
        if (this.secure) this.secureInput.focus();
        else if (this.input) this.input.focus();
      }, 0);
    }

    onReady(conversation, typing) {
      this.backlogUntil = conversation.last_seq || 0;
      this.setStatus(conversation.status, { quiet: true });
      if (conversation.signed_in !== undefined) this.signedIn = conversation.signed_in;
      this.showTyping(!!typing);
      this.banner.hidden = true;
      this.refreshHandoff();
      // After the backlog is in, act on a request the user had not answered before the reload.
      window.setTimeout(() => this.resumePendingRequest(), 300);
    }

    onDisconnected() {
      if (!this.banner) return;
      if (this.banner.hidden) this.announce("Connection lost. Reconnecting\u2026");
      this.banner.textContent = "Connection lost. Reconnecting\u2026 Your messages are kept and will be sent.";
      this.banner.hidden = false;
    }

    onConversationLost() {
      if (this.transport) this.transport.stop();
      this.transport = null;
      this.chat = null;
      store.set(KEYS.chat, null);
      store.set(KEYS.outbox, null);
      this.outbox = [];
      this.showPrechat("Your earlier chat could not be found. Please start a new one.");
    }

    onFrame(frame) {
      switch (frame.type) {
        case "message":
          this.addMessage(frame.message);
          break;
        case "ack":
          this.removeFromOutbox(frame.client_message_id);
          break;
        case "error":
          this.onTurnError(frame);
          break;
        case "typing":
          this.showTyping(!!frame.on, frame.sender);
          break;
        case "status":
          this.setStatus(frame.status, {});
          break;
        default:
          break;
      }
    }

    showTyping(on, sender) {
      if (!this.typing) return;
      const was = !this.typing.hidden;
      const who = sender === "agent" ? `${this.agentName || "The agent"} is typing` : "The assistant is typing";
      this.typing.firstChild.textContent = who;
      this.typing.hidden = !on;
      if (on && !was) this.announce(`${who}.`);
    }

    setStatus(status, { quiet }) {
      if (!status || status === this.status) return;
      this.status = status;
      if (quiet) return;
      const words = { bot: "You are chatting with the assistant.", closed: "The chat has ended." };
      if (words[status] && !this.handoff) this.announce(words[status]); // else the handoff status line says it
    }

    // ---- messages

    addMessage(message) {
      if (this.rendered.has(message.seq)) return; // already shown: never twice
      if (message.data && message.data.custom) this.customMessages.set(message.seq, message);
      const element = this.renderMessage(message);
      const pending = message.client_message_id && this.pending.get(message.client_message_id);
      if (pending) {
        pending.replaceWith(element);
        this.pending.delete(message.client_message_id);
        this.removeFromOutbox(message.client_message_id);
      } else {
        this.insertInOrder(element, message.seq);
      }
      this.rendered.set(message.seq, element);
      this.lastSeq = Math.max(this.lastSeq, message.seq);
      if (message.sender === "user") {
        this.lastUserSeq = Math.max(this.lastUserSeq, message.seq);
        this.disableOldButtons();
      }
      if (message.sender !== "user" && message.sender !== "system") this.clearRetryButtons();
      if (message.sender === "bot" && message.data && message.data.custom && message.seq > this.backlogUntil) {
        this.actOn(message); // live
      }
      this.scrollToEnd();
    }

    insertInOrder(element, seq) {
      element.dataset.seq = String(seq);
      let before = null;
      for (const child of this.log.children) {
        const other = Number(child.dataset.seq || Number.MAX_SAFE_INTEGER);
        if (child.dataset.seq && other > seq) {
          before = child;
          break;
        }
        if (!child.dataset.seq) {
          before = child; // pending messages stay last
          break;
        }
      }
      this.log.insertBefore(element, before);
    }

    scrollToEnd() {
      this.log.scrollTop = this.log.scrollHeight;
    }

    renderMessage(message) {
      const data = message.data || {};
      let element;
      if (message.sender === "system" || message.kind === "event") {
        element = this.renderEvent(message);
      } else if (message.kind === "note") {
        element = h("div", { class: "note" }, message.text, " ", h("time", { datetime: message.created_at }, formatTime(message.created_at)));
      } else {
        const who = { user: "You", bot: "Assistant", agent: data.agent_name ? `${data.agent_name} (agent)` : "Agent" }[message.sender];
        element = h("div", { class: `msg ${message.sender}` }, h("span", { class: "who" }, who));
        if (message.text) element.append(h("div", { class: "bubble" }, richText(message.text)));
        if (data.image) element.append(h("img", { src: data.image, alt: message.text ? "" : "Image sent by the assistant", loading: "lazy" }));
        if (data.buttons && data.buttons.length) {
          const group = h("div", { class: "quick", role: "group", "aria-label": "Suggested replies" });
          for (const button of data.buttons) {
            group.append(h("button", { type: "button", onclick: () => this.sendButtonReply(button, group) }, button.title));
          }
          if (message.seq < this.lastUserSeq) for (const b of group.querySelectorAll("button")) b.disabled = true;
          element.append(group);
        }
        if (data.custom) {
          const extra = this.renderCustom(message);
          if (extra) element.append(extra);
        }
        if (!element.querySelector(".bubble, img, .quick, .custom") && data.custom) element.hidden = true;
        element.append(h("time", { datetime: message.created_at }, formatTime(message.created_at)));
      }
      element.dataset.seq = String(message.seq);
      return element;
    }

    renderEvent(message) {
      const data = message.data || {};
      let cls = "event";
      if (data.event === "status" && (data.status === "with_agent" || data.status === "bot")) cls += " agent";
      if (data.code === "retry") cls += " warn";
      const element = h("div", { class: cls }, message.text);
      if (data.code === "retry" && data.retry_client_message_id) {
        element.append(
          h("br"),
          h("button", { type: "button", class: "secondary retry", onclick: (event) => this.retryTurn(data.retry_client_message_id, event.currentTarget) }, "Try again"),
        );
      }
      // A handoff's status line says who joined (setHandoffStatus); other agent markers are announced here.
      if (data.event === "status" && data.status === "with_agent" && data.type !== "handoff" && message.seq > this.backlogUntil) this.announce(message.text);
      if (data.event === "status" && data.status === "closed") this.showEnded(element);
      if (data.state === "with_agent" && data.agent_name) this.agentName = data.agent_name;
      if ((data.type === "handoff" || data.event === "status") && message.seq > this.backlogUntil) this.refreshHandoff();
      return element;
    }

    renderCustom(message) {
      const custom = message.data.custom;
      if (custom.type === "handoff") {
        const words = {
          queued: custom.position ? `Waiting for an agent: you are number ${custom.position} in the queue.` : "Waiting for an agent.",
          with_agent: "An agent joined the chat.",
          ended: "The agent left the chat.",
          closed_hours: null,
        }[custom.state];
        if (words && message.seq > this.backlogUntil) this.announce(words);
        return words ? h("p", { class: "event agent custom" }, words) : null;
      }
      if (custom.type === "mfa_qr") {
        const holder = h("div", { class: "custom" });
        if (message.seq > this.backlogUntil || message.seq > this.lastUserSeq) this.loadQr(holder);
        return holder;
      }
      return null;
    }

    disableOldButtons() {
      for (const element of this.log.querySelectorAll(".msg")) {
        if (Number(element.dataset.seq) < this.lastUserSeq) for (const b of element.querySelectorAll(".quick button")) b.disabled = true;
      }
    }

    clearRetryButtons() {
      for (const button of this.log.querySelectorAll(".retry")) button.remove();
    }

    showEnded(element) {
      window.setTimeout(() => {
        this.setComposerEnabled(false);
        if (!element.querySelector(".start-over")) {
          element.append(h("br"), h("button", { type: "button", class: "secondary start-over", onclick: () => this.startOver() }, "Start a new chat"));
        }
      }, 0);
    }

    setComposerEnabled(enabled) {
      for (const el of [this.input, this.sendButton, this.clip]) if (el) el.disabled = !enabled;
      if (this.input) this.input.placeholder = enabled ? "Type your message" : "This chat has ended";
    }

    // ---- sending

    submitTyped() {
      const text = this.input.value.trim();
      if (!text) {
        this.announce("Type a message first.");
        return;
      }
      if (text.length > 2000) {
        this.announce(`Messages can be at most 2,000 characters; this one has ${text.length}.`);
        return;
      }
      this.input.value = "";
      if (this.typingOn) this.tellAgentTyping(false);
      this.sendTurn({ client_message_id: newId(), text });
    }

    sendButtonReply(button, group) {
      for (const b of group.querySelectorAll("button")) b.disabled = true;
      this.sendTurn({ client_message_id: newId(), text: button.title, payload: button.payload });
      this.focusComposer();
    }

    sendCommand(payload) {
      this.sendTurn({ client_message_id: newId(), text: "", payload }, { quiet: true });
    }

    sendTurn(turn, { quiet } = {}) {
      this.outbox.push(turn);
      store.set(KEYS.outbox, this.outbox);
      if (!quiet) this.showPending(turn);
      if (this.transport) this.transport.send(turn);
    }

    retryTurn(clientMessageId, button) {
      button.disabled = true;
      const turn = { client_message_id: clientMessageId, text: "" };
      if (this.transport && !this.transport.send(turn)) {
        this.outbox.push(turn);
        store.set(KEYS.outbox, this.outbox);
      }
    }

    showPending(turn) {
      if (!turn.text || this.pending.has(turn.client_message_id)) return;
      const element = h("div", { class: "msg user" }, h("span", { class: "who" }, "You"), h("div", { class: "bubble" }, turn.text), h("span", { class: "state" }, "Sending\u2026"));
      this.pending.set(turn.client_message_id, element);
      this.log.append(element);
      this.scrollToEnd();
    }

    flushOutbox() {
      for (const turn of [...this.outbox]) this.transport.send(turn);
    }

    removeFromOutbox(clientMessageId) {
      const before = this.outbox.length;
      this.outbox = this.outbox.filter((t) => t.client_message_id !== clientMessageId);
      if (this.outbox.length !== before) store.set(KEYS.outbox, this.outbox);
    }

    onTurnError(frame) {
      if (!frame.client_message_id) {
        this.announce(frame.detail || "Something went wrong.");
        return;
      }
      this.removeFromOutbox(frame.client_message_id);
      const element = this.pending.get(frame.client_message_id);
      const detail = frame.detail || "This message was not sent.";
      if (element) {
        element.classList.add("failed");
        const state = element.querySelector(".state");
        state.textContent = `Not sent: ${detail}`;
        state.classList.add("error");
        this.pending.delete(frame.client_message_id);
      } else {
        this.log.append(h("div", { class: "event warn" }, detail));
      }
      this.announce(`Not sent: ${detail}`);
      this.scrollToEnd();
    }

    // ---- what the bot asks the widget to do (bot/PROTOCOL.md)

    resumePendingRequest() {
      if (!this.log) return;
      // Only what came after the user's last turn is still waiting for an answer.
      const waiting = [...this.customMessages.values()].filter((m) => m.seq > this.lastUserSeq && m.seq <= this.backlogUntil);
      waiting.sort((a, b) => a.seq - b.seq);
      for (const message of waiting) this.actOn(message);
    }

    actOn(message) {
      if (this.actedOn.has(message.seq)) return;
      this.actedOn.add(message.seq);
      const custom = message.data.custom;
      switch (custom.type) {
        case "sign_in_required":
          this.openSignIn(custom.reason || "chat");
          break;
        case "secure_input":
          this.enterSecureMode(custom);
          break;
        case "file_request":
          this.openAttach({ requested: true, maxBytes: custom.max_bytes });
          break;
        default:
          break;
      }
    }

    // ---- secure input: a masked one-time code that goes to the identity API, never to the bot

    enterSecureMode(request) {
      this.secure = request;
      this.input.hidden = true;
      this.inputLabel.hidden = true;
      this.secureInput.hidden = false;
      this.secureLabel.hidden = false;
      this.secureInput.value = "";
      this.secureNote.hidden = false;
      this.secureInput.setAttribute("aria-describedby", "cbp-secure-note");
      this.secureCancel.hidden = false;
      this.sendButton.textContent = "Verify code";
      this.clip.hidden = true;
      this.announce("Enter the one-time code in the secure field. It goes to the sign-in service, not into the chat.");
      this.focusComposer();
    }

    leaveSecureMode({ outcome }) {
      this.secure = null;
      this.secureInput.value = "";
      this.secureInput.hidden = true;
      this.secureLabel.hidden = true;
      this.secureNote.hidden = true;
      this.secureCancel.hidden = true;
      this.input.hidden = false;
      this.inputLabel.hidden = false;
      this.sendButton.textContent = "Send";
      this.sendButton.disabled = false;
      this.clip.hidden = false;
      if (outcome) this.sendCommand(`/secure_input_done${JSON.stringify({ outcome })}`);
      this.focusComposer();
    }

    async submitSecure() {
      const code = this.secureInput.value.replace(/\s/g, "");
      this.secureInput.value = "";
      if (!code) {
        this.announce("Enter the code first.");
        return;
      }
      const request = this.secure;
      const session = store.get(KEYS.session);
      let result;
      this.sendButton.disabled = true;
      try {
        if (request.purpose === "mfa_enroll_verify" && request.enrollment_id) {
          const token = session || (this.signIn && this.signIn.token);
          result = await api(`/auth/mfa/enrollments/${encodeURIComponent(request.enrollment_id)}/verify`, {
            method: "POST",
            body: { code, conversation_id: this.chat.conversationId },
            token,
          });
          if (result.ok && result.data.session) this.rememberSession(result.data.session);
        } else if (this.signIn && this.signIn.token && this.signIn.deviceId) {
          result = await api("/auth/mfa/verify", {
            method: "POST",
            body: { device_id: this.signIn.deviceId, code, conversation_id: this.chat.conversationId },
            token: this.signIn.token,
          });
          if (result.ok && result.data.session) this.rememberSession(result.data.session);
        } else {
          this.sendButton.disabled = false;
          this.leaveSecureMode({ outcome: null });
          this.openSignIn("mfa");
          return;
        }
      } catch (_) {
        this.sendButton.disabled = false;
        this.announce("The code could not be checked: the connection dropped. Enter it again.");
        return;
      }
      this.leaveSecureMode({ outcome: secureOutcome(result) });
    }

    // ---- sign-in panel: user ID and password, then the second factor, straight to the identity API

    openSignIn(reason) {
      if (!this.chat) return;
      this.signIn = { reason, token: null, devices: [], deviceId: null };
      this.chatArea.hidden = true;
      this.signInArea.hidden = false;
      this.renderPasswordStep();
    }

    closeSignIn({ cancelled }) {
      this.signInArea.hidden = true;
      this.signInArea.replaceChildren();
      this.chatArea.hidden = false;
      if (cancelled) {
        this.signIn = null;
        this.sendCommand("/sign_in_cancelled");
        this.announce("Sign-in cancelled.");
      }
      this.focusComposer();
    }

    signInField(id, label, attrs) {
      const error = h("p", { class: "error", id: `${id}-error`, hidden: true });
      const input = h("input", { id, ...attrs, "aria-required": "true" });
      return { input, error, element: h("div", { class: "field" }, h("label", { for: id }, label, " ", h("span", { class: "req", "aria-hidden": "true" }, "*")), input, error) };
    }

    fieldError(entry, message) {
      entry.error.textContent = message || "";
      entry.error.hidden = !message;
      if (message) {
        entry.input.setAttribute("aria-invalid", "true");
        entry.input.setAttribute("aria-describedby", entry.error.id);
        entry.input.focus();
        this.announce(message);
      } else {
        entry.input.removeAttribute("aria-invalid");
        entry.input.removeAttribute("aria-describedby");
      }
    }

    renderPasswordStep() {
      const heading = h("h3", { id: "cbp-signin-title", tabindex: "-1" }, "Sign in to Connexion");
      const why = {
        upload: "Sign in to upload a document from the chat.",
        history: "Sign in to see your upload history.",
        mfa: "Sign in to set up or use your MFA device.",
      }[this.signIn.reason] || "Sign in with your CMS IDM user ID and password.";
      const user = this.signInField("cbp-signin-user", "User ID", { type: "text", autocomplete: "username", spellcheck: "false", maxlength: "64" });
      const password = this.signInField("cbp-signin-password", "Password", { type: "password", autocomplete: "current-password", maxlength: "128" });
      const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
      const form = h(
        "form",
        { novalidate: true, "aria-labelledby": "cbp-signin-title" },
        heading,
        h("p", {}, why, " Your password goes to the sign-in service only, never into the chat."),
        user.element,
        password.element,
        h("div", { class: "actions" }, submit, h("button", { type: "button", class: "secondary", onclick: () => this.closeSignIn({ cancelled: true }) }, "Cancel")),
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        this.fieldError(user, null);
        this.fieldError(password, null);
        if (!user.input.value.trim()) return this.fieldError(user, "User ID is required: enter your CMS IDM user ID.");
        if (!password.input.value) return this.fieldError(password, "Password is required: enter your CMS IDM password.");
        submit.disabled = true;
        let result;
        try {
          result = await api("/auth/sign-in", {
            method: "POST",
            body: { user_id: user.input.value.trim(), password: password.input.value, conversation_id: this.chat.conversationId },
          });
        } catch (_) {
          result = { ok: false, data: { detail: "The sign-in service could not be reached; check your connection and try again." } };
        }
        password.input.value = "";
        submit.disabled = false;
        if (!result.ok) return this.fieldError(password, result.data.detail || "Sign-in failed; try again.");
        this.afterPasswordStep(result.data);
      });
      this.signInArea.replaceChildren(form);
      user.input.focus();
    }

    afterPasswordStep(step) {
      if (step.next_step === "signed_in" && step.session) return this.finishSignIn(step.session);
      this.signIn.token = step.sign_in_token;
      if (step.next_step === "set_up_device") return this.renderSetUpStep(step);
      this.signIn.devices = step.devices || [];
      this.renderCodeStep(step.message);
    }

    renderCodeStep(message) {
      const devices = this.signIn.devices;
      const heading = h("h3", { id: "cbp-signin-title", tabindex: "-1" }, "Verify it is you");
      const code = this.signInField("cbp-signin-code", "One-time code", { type: "text", autocomplete: "one-time-code", inputmode: "numeric", maxlength: "12", spellcheck: "false" });
      const sendInfo = h("p", { class: "hint", role: "status" });
      const sendButton = h("button", { type: "button", class: "secondary", hidden: true }, "Send me a code");
      const choose = h("fieldset", { class: "field" }, h("legend", {}, "Where should the code come from?"));
      const pick = (device) => {
        this.signIn.deviceId = device.id;
        sendButton.hidden = device.kind === "google_authenticator" || device.kind === "okta_verify";
        sendInfo.textContent = sendButton.hidden ? `Enter the 6-digit code that ${device.kind_name} shows now.` : `Select "Send me a code" to get a code by ${device.kind_name.toLowerCase()}.`;
      };
      devices.forEach((device, index) => {
        const id = `cbp-device-${device.id}`;
        const radio = h("input", { type: "radio", name: "cbp-device", id, value: String(device.id), checked: index === 0 });
        radio.addEventListener("change", () => pick(device));
        choose.append(h("div", { class: "choice" }, radio, h("label", { for: id }, device.label || device.kind_name)));
      });
      if (devices.length) pick(devices[0]);
      sendButton.addEventListener("click", async () => {
        sendButton.disabled = true;
        const result = await api("/auth/mfa/challenge", { method: "POST", body: { device_id: this.signIn.deviceId }, token: this.signIn.token }).catch(() => null);
        sendButton.disabled = false;
        sendInfo.textContent = result && result.ok ? result.data.message : (result && result.data.detail) || "The code could not be sent; try again.";
      });
      const submit = h("button", { type: "submit", class: "primary" }, "Verify");
      const form = h(
        "form",
        { novalidate: true, "aria-labelledby": "cbp-signin-title" },
        heading,
        h("p", {}, message || "Your password was accepted. Now enter a code from your MFA device."),
        devices.length > 1 ? choose : null,
        devices.length === 1 ? h("p", {}, `Device: ${devices[0].label || devices[0].kind_name}`) : null,
        sendButton,
        sendInfo,
        code.element,
        h("div", { class: "actions" }, submit, h("button", { type: "button", class: "secondary", onclick: () => this.closeSignIn({ cancelled: true }) }, "Cancel")),
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const value = code.input.value.replace(/\s/g, "");
        code.input.value = "";
        if (!/^\d{6}$/.test(value)) return this.fieldError(code, "One-time code: enter the 6 digits of the code.");
        submit.disabled = true;
        const result = await api("/auth/mfa/verify", {
          method: "POST",
          body: { device_id: this.signIn.deviceId, code: value, conversation_id: this.chat.conversationId },
          token: this.signIn.token,
        }).catch(() => ({ ok: false, data: { detail: "The code could not be checked: the connection dropped. Try again." } }));
        submit.disabled = false;
        if (!result.ok) return this.fieldError(code, result.data.detail || "The code was not accepted; try again.");
        this.finishSignIn(result.data.session);
      });
      this.signInArea.replaceChildren(form);
      heading.focus();
    }

    renderSetUpStep(step) {
      const heading = h("h3", { id: "cbp-signin-title", tabindex: "-1" }, "Set up an MFA device");
      const start = h("button", { type: "button", class: "primary" }, "Set up Google Authenticator");
      const area = h("div", {});
      const form = h(
        "div",
        { role: "group", "aria-labelledby": "cbp-signin-title" },
        heading,
        h("p", {}, step.message || "You need an MFA device to sign in."),
        area,
        h("div", { class: "actions" }, start, h("button", { type: "button", class: "secondary", onclick: () => this.closeSignIn({ cancelled: true }) }, "Cancel")),
      );
      start.addEventListener("click", async () => {
        start.disabled = true;
        const result = await api("/auth/mfa/enrollments", { method: "POST", body: { kind: "google_authenticator" }, token: this.signIn.token }).catch(() => null);
        start.disabled = false;
        if (!result || !result.ok) {
          area.replaceChildren(h("p", { class: "error", role: "alert" }, (result && result.data.detail) || "The set-up could not start; try again."));
          return;
        }
        start.hidden = true;
        this.renderEnrollment(area, result.data, async (code) => {
          const verified = await api(`/auth/mfa/enrollments/${result.data.enrollment_id}/verify`, {
            method: "POST",
            body: { code, conversation_id: this.chat.conversationId },
            token: this.signIn.token,
          });
          if (verified.ok && verified.data.session) this.finishSignIn(verified.data.session);
          return verified;
        });
      });
      this.signInArea.replaceChildren(form);
      heading.focus();
    }

    renderEnrollment(area, enrollment, verify) {
      const setup = enrollment.authenticator;
      const code = this.signInField("cbp-enroll-code", "Code from the app", { type: "text", autocomplete: "one-time-code", inputmode: "numeric", maxlength: "12" });
      const submit = h("button", { type: "submit", class: "primary" }, "Verify");
      const form = h(
        "form",
        { novalidate: true },
        setup ? h("img", { class: "qr", src: setup.qr_code, alt: "QR code to scan with Google Authenticator" }) : null,
        setup ? h("p", {}, "Or type this key into the app: ", h("span", { class: "key" }, setup.secret)) : null,
        code.element,
        submit,
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const value = code.input.value.replace(/\s/g, "");
        code.input.value = "";
        if (!/^\d{6}$/.test(value)) return this.fieldError(code, "Code from the app: enter the 6 digits the app shows.");
        submit.disabled = true;
        const result = await verify(value).catch(() => ({ ok: false, data: { detail: "The code could not be checked; try again." } }));
        submit.disabled = false;
        if (!result.ok) this.fieldError(code, result.data.detail || "The code was not accepted; try again.");
      });
      area.replaceChildren(form);
      code.input.focus();
    }

    rememberSession(session) {
      store.set(KEYS.session, session.session_token);
      this.signedIn = true;
    }

    finishSignIn(session) {
      this.rememberSession(session);
      this.signIn = null;
      this.closeSignIn({ cancelled: false });
      this.announce("You are signed in.");
      this.sendCommand("/signed_in");
    }

    async signOut() {
      const token = store.get(KEYS.session);
      if (token) await api("/auth/sign-out", { method: "POST", token }).catch(() => null);
      store.set(KEYS.session, null);
      this.signedIn = false;
      this.announce("You are signed out.");
    }

    async loadQr(holder) {
      const token = store.get(KEYS.session) || (this.signIn && this.signIn.token);
      if (!token) return;
      const result = await api("/me/mfa-setup", { token }).catch(() => null);
      const setup = result && result.ok && result.data.enrollment && result.data.enrollment.authenticator;
      if (!setup) return;
      holder.replaceChildren(
        h("img", { class: "qr", src: setup.qr_code, alt: "QR code to scan with your authenticator app" }),
        h("p", {}, "Or type this key into the app: ", h("span", { class: "key" }, setup.secret)),
      );
    }

    // ---- file attach: checked here, staged by the API with progress, only its reference goes to the bot

    openAttach({ requested, maxBytes }) {
      if (!this.chat || !this.attachArea) return;
      if (this.upload && this.upload.xhr) return;
      this.upload = { requested, file: null, key: null, xhr: null };
      const heading = h("h3", { id: "cbp-attach-title", tabindex: "-1" }, "Attach a PDF");
      const fileInput = h("input", { type: "file", id: "cbp-attach-file", accept: "application/pdf,.pdf", "aria-describedby": "cbp-attach-rules" });
      const drop = h("label", { class: "drop", for: "cbp-attach-file" }, "Choose a file or drop it here", h("br"), fileInput);
      this.attachError = h("p", { class: "error", id: "cbp-attach-error", role: "alert", hidden: true });
      this.progress = h("progress", { max: "100", value: "0", "aria-labelledby": "cbp-attach-progress-label", hidden: true });
      this.progressLabel = h("p", { class: "progress-label", id: "cbp-attach-progress-label", hidden: true });
      this.retryButton = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => this.startUpload() }, "Retry");
      const cancel = h("button", { type: "button", class: "secondary", onclick: () => this.cancelAttach() }, "Cancel");
      const limit = maxBytes && maxBytes < MAX_FILE_BYTES ? maxBytes : MAX_FILE_BYTES;
      this.upload.limit = limit;
      const rules = h("p", { class: "hint", id: "cbp-attach-rules" }, "A PDF, under 50 MB, not password protected.");
      const children = [heading, rules];
      if (!this.signedIn) {
        children.push(
          h("p", {}, "Sign in first, so that the file is kept for your account. "),
          h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => { this.closeAttach(); this.openSignIn("upload"); } }, "Sign in"), cancel),
        );
      } else {
        children.push(drop, this.attachError, this.progressLabel, this.progress, h("div", { class: "actions" }, this.retryButton, cancel));
      }
      this.attachArea.replaceChildren(...children);
      this.attachArea.hidden = false;
      fileInput.addEventListener("change", () => {
        if (fileInput.files && fileInput.files[0]) this.chooseFile(fileInput.files[0]);
      });
      drop.addEventListener("dragover", (event) => {
        event.preventDefault();
        drop.classList.add("over");
      });
      drop.addEventListener("dragleave", () => drop.classList.remove("over"));
      drop.addEventListener("drop", (event) => {
        event.preventDefault();
        drop.classList.remove("over");
        const file = event.dataTransfer && event.dataTransfer.files[0];
        if (file) this.chooseFile(file);
      });
      heading.focus();
    }

    attachProblem(message) {
      this.attachError.textContent = message;
      this.attachError.hidden = !message;
    }

    async chooseFile(file) {
      this.attachProblem("");
      const limit = this.upload.limit;
      if (file.size >= limit) {
        this.attachProblem(`${file.name} is ${formatBytes(file.size)}: files must be under 50 MB (52,428,800 bytes). Reduce it (for example, scan at a lower resolution) or split it, then attach it again.`);
        return;
      }
      if (file.size === 0) {
        this.attachProblem(`${file.name} is empty: choose the PDF you want to attach.`);
        return;
      }
      const head = new Uint8Array(await file.slice(0, PDF_HEADER_WINDOW).arrayBuffer());
      const text = String.fromCharCode(...head);
      if (!text.includes("%PDF-")) {
        this.attachProblem(`${file.name} is not a PDF: save or print it as a PDF, then attach it again.`);
        return;
      }
      this.upload.file = file;
      this.upload.key = newId(); // one key per chosen file: a retry never attaches it twice
      this.startUpload();
    }

    startUpload() {
      const upload = this.upload;
      if (!upload || !upload.file) return;
      this.retryButton.hidden = true;
      this.attachProblem("");
      this.progress.hidden = false;
      this.progressLabel.hidden = false;
      this.progress.value = 0;
      this.progressLabel.textContent = `Uploading ${upload.file.name}: 0%`;
      this.announce(`Uploading ${upload.file.name}.`);
      const xhr = new XMLHttpRequest();
      upload.xhr = xhr;
      let announced = 0;
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.min(100, Math.round((event.loaded / event.total) * 100));
        this.progress.value = percent;
        this.progressLabel.textContent = `Uploading ${upload.file.name}: ${percent}%`;
        if (percent >= announced + 25) {
          announced = percent - (percent % 25);
          this.announce(`Upload ${announced}%.`);
        }
      });
      xhr.addEventListener("load", () => {
        upload.xhr = null;
        let data = {};
        try {
          data = JSON.parse(xhr.responseText || "{}");
        } catch (_) {
          data = {};
        }
        if (xhr.status === 200 || xhr.status === 201) {
          this.progress.value = 100;
          this.progressLabel.textContent = `Uploading ${upload.file.name}: 100%`;
          this.announce(`${upload.file.name} is attached.`);
          this.closeAttach();
          this.sendCommand(`/file_staged${JSON.stringify({ staged_file_id: data.staged_file_id })}`);
          return;
        }
        this.progress.hidden = true;
        this.progressLabel.hidden = true;
        if (xhr.status >= 500) this.retryButton.hidden = false;
        this.attachProblem(data.detail || `The file was not attached (error ${xhr.status}); try again.`);
      });
      const dropped = () => {
        upload.xhr = null;
        this.retryButton.hidden = false;
        this.attachProblem("The connection dropped while uploading. Select Retry: the file will not be attached twice.");
      };
      xhr.addEventListener("error", dropped);
      xhr.addEventListener("timeout", dropped);
      xhr.open("POST", `${API}/chat/conversations/${encodeURIComponent(this.chat.conversationId)}/files`);
      xhr.setRequestHeader("X-Chat-Token", this.chat.clientToken);
      xhr.setRequestHeader("Idempotency-Key", upload.key);
      xhr.setRequestHeader("Accept", "application/json");
      const form = new FormData();
      form.append("file", upload.file, upload.file.name);
      xhr.send(form);
    }

    cancelAttach() {
      const upload = this.upload;
      if (upload && upload.xhr) upload.xhr.abort();
      this.closeAttach();
      this.announce("File attachment cancelled.");
      if (upload && upload.requested) this.sendCommand("/file_cancelled");
    }

    closeAttach() {
      this.upload = null;
      this.attachArea.hidden = true;
      this.attachArea.replaceChildren();
      this.focusComposer();
    }

    // ---- a person: queue place, leaving the queue, the agent, the callback, the rating (docs/handoff.md)

    chatPath(suffix) {
      return `/chat/conversations/${encodeURIComponent(this.chat.conversationId)}${suffix}`;
    }

    /** Read where the request for a person stands (on every load, and after every handoff event). */
    async refreshHandoff() {
      if (!this.chat || !this.handoffArea) return;
      const asked = ++this.handoffAsked;
      const result = await api(this.chatPath("/queue"), { chatToken: this.chat.clientToken }).catch(() => null);
      if (asked !== this.handoffAsked || !result || !result.ok || !this.handoffArea) return;
      this.renderHandoff(result.data);
    }

    setHandoffStatus(text) {
      if (this.handoffStatus.textContent === text) return;
      this.handoffStatus.textContent = text;
      if (text) this.announce(text); // the polite status region: screen readers hear it, focus stays put
    }

    renderHandoff(queue) {
      const before = this.handoff;
      this.handoff = queue;
      if (queue.agent_name) this.agentName = queue.agent_name;
      const backWithBot = queue.conversation_status === "bot" && !["queued", "closed_hours", "callback_requested"].includes(queue.state);
      const state = backWithBot ? "none" : queue.state;
      const agent = this.agentName || "the agent";
      const status = {
        queued: queue.message,
        with_agent: `Connected to ${agent} from the customer service center.`,
        closed_hours: queue.message,
        callback_requested: queue.message,
        ended: queue.rating_requested ? `The chat with ${agent} has ended. Please rate it.` : queue.rated ? "The chat has ended. Thank you for your rating." : "",
      }[state];
      this.setHandoffStatus(status || "");
      if (queue.conversation_status !== "closed") this.setComposerEnabled(true);
      const key = `${state}|${queue.rating_requested}|${queue.rated}|${queue.ended_by}`;
      const beforeKey = before && before.renderedKey;
      queue.renderedKey = key;
      if (key === beforeKey) return; // keep what the supplier is typing in a form
      const hadFocus = this.handoffArea.contains(this.root.activeElement);
      const lostFocus = !this.root.activeElement || this.root.activeElement.disabled;
      let content = null;
      if (state === "queued") {
        content = [h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: (e) => this.leaveQueue(e.currentTarget) }, "Leave the queue"))];
      } else if (state === "with_agent") {
        content = [h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => this.endChat() }, "End chat"))];
      } else if (state === "closed_hours") {
        content = [this.callbackForm(queue)];
      } else if (state === "ended" && queue.rating_requested) {
        content = [this.ratingForm(queue)];
      } else if (state === "ended" && queue.rated) {
        content = [this.endedActions(queue)];
      }
      this.handoffError = null;
      this.handoffArea.replaceChildren(...(content || []));
      this.handoffArea.hidden = !content;
      if (!content) {
        if (hadFocus) this.focusComposer();
        return;
      }
      // Focus moves only when it was in what changed or was lost (the message box was just disabled).
      if (hadFocus || lostFocus) {
        const target = this.handoffArea.querySelector("h3[tabindex], input, button");
        if (target) target.focus();
      }
    }

    handoffProblem(message) {
      if (!this.handoffError) {
        this.handoffError = h("p", { class: "error", role: "alert" });
        this.handoffArea.append(this.handoffError);
      }
      this.handoffError.textContent = message;
    }

    async leaveQueue(button) {
      button.disabled = true;
      const result = await api(this.chatPath("/queue/leave"), { method: "POST", chatToken: this.chat.clientToken }).catch(() => null);
      if (!result || !result.ok) {
        button.disabled = false;
        this.handoffProblem((result && result.data.detail) || "You could not leave the queue: the connection dropped. Try again.");
        this.refreshHandoff();
        return;
      }
      this.renderHandoff(result.data);
      this.focusComposer();
    }

    async startOverWithBot(button) {
      button.disabled = true;
      const result = await api(this.chatPath("/start-over"), { method: "POST", chatToken: this.chat.clientToken }).catch(() => null);
      if (!result || !result.ok) {
        button.disabled = false;
        this.handoffProblem((result && result.data.detail) || "The chat could not go back to the assistant: the connection dropped. Try again.");
        return;
      }
      this.renderHandoff(result.data);
      this.focusComposer();
    }

    endedActions(queue) {
      return h(
        "div",
        { class: "actions" },
        queue.ended_by === "agent" ? h("button", { type: "button", class: "primary", onclick: (e) => this.startOverWithBot(e.currentTarget) }, "Start over with the assistant") : null,
        h("button", { type: "button", class: "secondary", onclick: () => this.startOver() }, "Start a new chat"),
      );
    }

    ratingForm(queue) {
      const error = h("p", { class: "error", id: "cbp-rating-error", hidden: true });
      const scale = h("div", { class: "scale" });
      for (let n = 1; n <= 5; n += 1) {
        const id = `cbp-rating-${n}`;
        scale.append(h("span", { class: "point" }, h("input", { type: "radio", name: "cbp-rating", id, value: String(n), required: true }), h("label", { for: id }, String(n))));
      }
      const group = h(
        "fieldset",
        { class: "rating-scale", "aria-describedby": "cbp-rating-hint" },
        h("legend", { id: "cbp-rating-title" }, "Rate this chat ", h("span", { class: "req", "aria-hidden": "true" }, "*")),
        h("p", { class: "hint", id: "cbp-rating-hint" }, "1 means poor, 5 means excellent."),
        scale,
        error,
      );
      const comment = h("textarea", { id: "cbp-rating-comment", rows: "2", maxlength: "1000", "aria-describedby": "cbp-rating-comment-hint" });
      const submit = h("button", { type: "submit", class: "primary" }, "Send rating");
      const form = h(
        "form",
        { class: "rating", novalidate: true, "aria-label": "How did we do?" },
        group,
        h("div", { class: "field" }, h("label", { for: "cbp-rating-comment" }, "Comment (optional)"), comment, h("p", { class: "hint", id: "cbp-rating-comment-hint" }, "Up to 1,000 characters.")),
        h("div", { class: "actions" }, submit),
        this.endedActions(queue),
      );
      const showError = (message) => {
        error.textContent = message;
        error.hidden = !message;
        group.setAttribute("aria-describedby", message ? "cbp-rating-error cbp-rating-hint" : "cbp-rating-hint");
        if (message) this.announce(message);
      };
      form.addEventListener("change", () => {
        if (!error.hidden && form.querySelector("input[name=cbp-rating]:checked")) showError("");
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const chosen = form.querySelector("input[name=cbp-rating]:checked");
        if (!chosen) {
          showError("Rating: choose a number from 1 (poor) to 5 (excellent).");
          form.querySelector("input[name=cbp-rating]").focus();
          return;
        }
        showError("");
        submit.disabled = true;
        const result = await api(this.chatPath("/rating"), {
          method: "POST",
          body: { rating: Number(chosen.value), comment: comment.value.trim() },
          chatToken: this.chat.clientToken,
        }).catch(() => ({ ok: false, data: { detail: "Your rating was not sent: the connection dropped. Try again." } }));
        submit.disabled = false;
        if (!result.ok && result.data.rule !== "already_rated") {
          showError(result.data.detail || "Your rating was not saved; try again.");
          (result.data.rule === "comment_too_long" ? comment : submit).focus();
          return;
        }
        this.renderHandoff({ ...queue, rating_requested: false, rated: true });
        const next = this.handoffArea.querySelector("button");
        if (next) next.focus();
      });
      return form;
    }

    callbackForm(queue) {
      const heading = h("h3", { id: "cbp-callback-title", tabindex: "-1" }, "Ask us to call you back");
      const phone = this.signInField("cbp-callback-phone", "Phone", { type: "tel", autocomplete: "tel", inputmode: "tel", maxlength: "40" });
      const best = this.signInField("cbp-callback-time", "Best time to call", { type: "text", autocomplete: "off", maxlength: "200" });
      phone.input.value = queue.callback_phone_prefill || "";
      best.input.setAttribute("aria-describedby", "cbp-callback-time-hint");
      best.element.insertBefore(h("p", { class: "hint", id: "cbp-callback-time-hint" }, "For example: Monday morning."), best.error);
      const submit = h("button", { type: "submit", class: "primary" }, "Request a callback");
      const form = h("form", { class: "callback", novalidate: true, "aria-labelledby": "cbp-callback-title" }, heading, phone.element, best.element, h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        this.fieldError(phone, null);
        this.fieldError(best, null);
        if (!phone.input.value.trim()) return this.fieldError(phone, "Phone is required: enter a 10-digit US number with its area code.");
        if (!best.input.value.trim()) return this.fieldError(best, "Best time to call is required: say when we should call, for example Monday morning.");
        submit.disabled = true;
        const result = await api(this.chatPath("/callback"), {
          method: "POST",
          body: { phone: phone.input.value.trim(), best_time: best.input.value.trim() },
          chatToken: this.chat.clientToken,
        }).catch(() => ({ ok: false, data: { detail: "Your request was not sent: the connection dropped. Try again." } }));
        submit.disabled = false;
        if (!result.ok) {
          if (result.data.rule === "invalid_phone") return this.fieldError(phone, result.data.detail);
          if (result.data.rule === "best_time_required") return this.fieldError(best, result.data.detail);
          return this.handoffProblem(result.data.detail || "Your request was not saved; try again.");
        }
        this.refreshHandoff();
        this.focusComposer();
      });
      return form;
    }

    /** While an agent has the chat, show them that the supplier is typing (nothing is stored). */
    tellAgentTyping(on = true) {
      if (!this.chat) return;
      window.clearTimeout(this.typingTimer);
      if (on) this.typingTimer = window.setTimeout(() => this.tellAgentTyping(false), 3000);
      if (on === this.typingOn || (on && this.status !== "with_agent")) return;
      this.typingOn = on;
      api(this.chatPath("/typing"), { method: "POST", body: { on }, chatToken: this.chat.clientToken }).catch(() => null);
    }

    // ---- ending

    async endChat() {
      if (!this.chat) return;
      await api(`/chat/conversations/${encodeURIComponent(this.chat.conversationId)}/close`, { method: "POST", chatToken: this.chat.clientToken }).catch(() => null);
      this.refreshHandoff(); // after a chat with an agent: the rating form
    }

    startOver() {
      if (this.transport) this.transport.stop();
      this.transport = null;
      this.chat = null;
      this.outbox = [];
      store.set(KEYS.chat, null);
      store.set(KEYS.outbox, null);
      this.showPrechat().then(() => {
        const first = this.form && this.form.querySelector("input, select");
        if (first) first.focus();
      });
    }
  }

  /** The outcome the bot may learn about a one-time code, from the identity API's answer. */
  function secureOutcome(result) {
    if (result.ok) return "verified";
    const rule = result.data.rule || "";
    if (["account_locked", "too_many_attempts"].includes(rule) || result.status === 423 || result.status === 429) return "locked";
    if (["code_expired", "sign_in_expired", "enrollment_not_pending", "enrollment_not_found"].includes(rule)) return "expired";
    return "failed";
  }

  window.customElements.define("chat-now-widget", ChatNowWidget);

  function mount() {
    if (!document.querySelector("chat-now-widget")) document.body.append(document.createElement("chat-now-widget"));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
