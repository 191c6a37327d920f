/*
 * The agent console (/agent): the live queue of chats and callback requests, claiming, the transcript with the
 * supplier's upload history, replies (canned replies too), the supplier typing, transfers and closing.
 *
 * Live updates come over the agent WebSocket (/api/v1/agent/ws), opened with a single-use ticket fetched with
 * the session token (never the token itself in a URL or frame); when the socket cannot be kept open the console
 * polls every 2 seconds instead. Everything from the API is shown as text.
 */
(() => {
  "use strict";

  const { h, api, session, announcer, showError, mountSignIn, signOut, formatWait, formatTime } = window.AgentCommon;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;
  const TYPING_IDLE_MS = 3000;

  const announce = announcer($("announce"));
  const state = {
    me: null,
    socket: null,
    socketFailures: 0,
    pollTimer: null,
    reconnectTimer: null,
    queue: null,
    queueReceivedAt: 0,
    seenQueueIds: null,
    current: null, // { handoffId, callbackId, conversationId, detail, lastSeq, rendered:Set }
    typingOn: false,
    typingTimer: null,
    supplierTypingTimer: null,
  };

  function alertError(text) {
    showError($("alert"), text);
    if (text) window.setTimeout(() => showError($("alert"), ""), 8000);
  }

  // ---- start and sign-in -------------------------------------------------------------------------------

  async function start() {
    $("sign-out").addEventListener("click", async () => {
      closeSocket();
      await signOut();
      window.location.reload();
    });
    wireForms();
    if (session.get()) {
      try {
        const me = await api("/agent/me");
        return showConsole(me);
      } catch (_) {
        session.set(null);
      }
    }
    showSignIn();
  }

  function showSignIn() {
    $("console").hidden = true;
    $("whoami").hidden = true;
    $("sign-in").hidden = false;
    mountSignIn($("sign-in"), (agent) => showConsole(agent));
  }

  async function showConsole(agent) {
    state.me = agent;
    $("sign-in").hidden = true;
    $("sign-in").replaceChildren();
    $("console").hidden = false;
    $("whoami").hidden = false;
    $("agent-name").textContent = agent.name;
    announce(`Signed in as ${agent.name}.`);
    $("main").focus();
    loadCannedReplies();
    loadAgents();
    refreshMine();
    connect();
    window.setInterval(renderWaits, 15000);
  }

  function sessionEnded() {
    closeSocket();
    session.set(null);
    alertError("Your session has ended. Sign in again.");
    showSignIn();
  }

  async function call(path, options) {
    try {
      return await api(path, options);
    } catch (exc) {
      if (exc.status === 401) sessionEnded();
      throw exc;
    }
  }

  // ---- live connection -----------------------------------------------------------------------------------

  function setConnection(text) {
    $("connection").textContent = text;
  }

  async function connect() {
    window.clearTimeout(state.reconnectTimer);
    if (state.socketFailures >= 3) return startPolling();
    let ticket;
    try {
      ticket = (await call("/agent/ws-ticket", { method: "POST" })).ticket;
    } catch (exc) {
      if (exc.status === 401) return;
      state.socketFailures += 1;
      state.reconnectTimer = window.setTimeout(connect, 1000 * state.socketFailures);
      return;
    }
    const url = `${window.location.origin.replace(/^http/, "ws")}/api/v1/agent/ws`;
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "hello", ticket })));
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      if (event.code === 4401 && !session.get()) return;
      if (event.code === 4401) {
        // The ticket or the session ended: a fresh ticket tells which (401 ends the session).
        state.socketFailures += 1;
      } else {
        state.socketFailures += event.wasClean ? 0 : 1;
      }
      setConnection("Reconnecting…");
      state.reconnectTimer = window.setTimeout(connect, Math.min(5000, 500 * (state.socketFailures + 1)));
    });
  }

  function closeSocket() {
    window.clearTimeout(state.reconnectTimer);
    window.clearInterval(state.pollTimer);
    if (state.socket) {
      const socket = state.socket;
      state.socket = null;
      socket.close();
    }
  }

  function startPolling() {
    setConnection("Live (checking every 2 seconds)");
    window.clearInterval(state.pollTimer);
    const poll = async () => {
      try {
        renderQueue(await call("/agent/queue"));
        if (state.current && state.current.handoffId) {
          const detail = await call(`/agent/handoffs/${state.current.handoffId}`);
          for (const message of detail.transcript) addMessage(message);
        }
      } catch (_) {
        setConnection("Offline: retrying…");
      }
    };
    poll();
    state.pollTimer = window.setInterval(poll, POLL_MS);
  }

  function watchCurrent() {
    if (state.socket && state.socket.readyState === WebSocket.OPEN && state.current && state.current.conversationId) {
      state.socket.send(JSON.stringify({ type: "watch", conversation_id: state.current.conversationId, after: state.current.lastSeq }));
    }
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "ready":
        state.socketFailures = 0;
        setConnection("Live");
        renderQueue(frame.queue);
        watchCurrent();
        break;
      case "queue":
        renderQueue(frame.queue);
        break;
      case "message":
        if (state.current && frame.conversation_id === state.current.conversationId) addMessage(frame.message);
        break;
      case "status":
        if (state.current && frame.conversation_id === state.current.conversationId) reloadCurrent();
        break;
      case "typing":
        if (state.current && frame.conversation_id === state.current.conversationId) showSupplierTyping(frame.on);
        break;
      case "assigned":
        announce(`${frame.by} transferred a chat to you.`);
        refreshMine();
        break;
      case "error":
        if (frame.rule === "not_signed_in") sessionEnded();
        break;
      default:
        break;
    }
  }

  // ---- the queue ---------------------------------------------------------------------------------------

  function supplierName(item) {
    const p = item.prechat || {};
    const name = [p.first_name, p.last_name].filter(Boolean).join(" ");
    return name || (item.supplier ? item.supplier.user_id : "Supplier");
  }

  function waitedSeconds(item) {
    return item.waiting_seconds + Math.floor((Date.now() - state.queueReceivedAt) / 1000);
  }

  function renderQueue(queue) {
    state.queue = queue;
    state.queueReceivedAt = Date.now();
    const list = $("queue-list");
    const ids = new Set(queue.items.map((i) => `${i.kind}:${i.id}`));
    if (state.seenQueueIds) {
      const fresh = queue.items.filter((i) => !state.seenQueueIds.has(`${i.kind}:${i.id}`));
      if (fresh.length === 1) {
        const item = fresh[0];
        announce(`New ${item.kind === "chat" ? "chat" : "callback request"} in the queue: ${supplierName(item)}, ${item.topic_label}.`);
      } else if (fresh.length > 1) {
        announce(`${fresh.length} new items in the queue.`);
      }
    }
    state.seenQueueIds = ids;
    const parts = [`${queue.chats_waiting} chat${queue.chats_waiting === 1 ? "" : "s"} waiting`];
    parts.push(`${queue.callbacks_waiting} callback request${queue.callbacks_waiting === 1 ? "" : "s"}`);
    if (queue.items.length) parts.push(`longest wait ${formatWait(queue.longest_wait_seconds)}`);
    $("queue-summary").textContent = parts.join(", ") + ".";
    list.replaceChildren(...queue.items.map(queueItem));
  }

  function queueItem(item) {
    const name = supplierName(item);
    const facts = h("dl", { class: "facts compact" });
    const add = (term, value) => {
      if (value) facts.append(h("dt", {}, term), h("dd", {}, value));
    };
    add("Waiting", h("span", { class: "wait", "data-seconds": String(item.waiting_seconds) }, formatWait(waitedSeconds(item))));
    add("Topic", item.topic_label);
    add("Reason", item.reason_text);
    if (item.kind === "callback") add("Call", item.phone);
    for (const answer of item.prechat_answers) {
      if (!["first_name", "last_name", "topic"].includes(answer.name)) add(answer.label, answer.value);
    }
    if (item.supplier) add("Signed in", `${item.supplier.user_id} (bidders ${item.supplier.bidder_numbers.join(", ") || "none"})`);
    if (item.kind === "callback") {
      add("Best time", item.best_time);
      add("Call from", item.available_from ? new Date(item.available_from).toLocaleString() : "");
    } else {
      add("Chat window", item.online ? "Open" : "Not connected");
    }
    const kind = item.kind === "chat" ? `Chat, number ${item.position} in line` : "Callback request";
    const claim = h(
      "button",
      { type: "button", onclick: (event) => (item.kind === "chat" ? claimChat(item, event.currentTarget) : claimCallback(item, event.currentTarget)) },
      "Claim",
      h("span", { class: "sr-only" }, ` ${item.kind === "chat" ? "chat" : "callback request"} with ${name}`),
    );
    return h(
      "li",
      { class: `item ${item.kind}`, "data-conversation-id": item.conversation_id },
      h("h3", {}, name, " ", h("span", { class: "tag" }, kind)),
      facts,
      claim,
    );
  }

  function renderWaits() {
    if (!state.queue) return;
    for (const element of document.querySelectorAll("#queue-list .wait")) {
      const seconds = Number(element.dataset.seconds) + Math.floor((Date.now() - state.queueReceivedAt) / 1000);
      element.textContent = formatWait(seconds);
    }
  }

  async function claimChat(item, button) {
    button.disabled = true;
    try {
      const detail = await call(`/agent/handoffs/${item.handoff_id}/claim`, { method: "POST" });
      announce(`You claimed the chat with ${supplierName(item)}.`);
      await refreshMine();
      openDetail(detail);
      $("reply").focus();
    } catch (exc) {
      button.disabled = false;
      alertError(exc.message);
    }
  }

  async function claimCallback(item, button) {
    button.disabled = true;
    try {
      const detail = await call(`/agent/callbacks/${item.id}/claim`, { method: "POST" });
      announce(`You took the callback request of ${supplierName(item)}.`);
      openDetail(detail, item.id);
      $("callback-note").focus();
    } catch (exc) {
      button.disabled = false;
      alertError(exc.message);
    }
  }

  // ---- my chats ----------------------------------------------------------------------------------------

  async function refreshMine() {
    let mine = [];
    try {
      mine = await call("/agent/conversations");
    } catch (_) {
      return;
    }
    $("mine-empty").hidden = mine.length > 0;
    $("mine-list").replaceChildren(
      ...mine.map((chat) =>
        h(
          "li",
          { class: "item mine" },
          h("h3", {}, chat.supplier_name),
          h("p", { class: "muted" }, `${chat.topic_label}: ${chat.reason_text}`),
          h(
            "button",
            { type: "button", class: "secondary", onclick: () => openHandoff(chat.handoff_id) },
            "Open",
            h("span", { class: "sr-only" }, ` chat with ${chat.supplier_name}`),
          ),
        ),
      ),
    );
  }

  async function openHandoff(handoffId) {
    try {
      openDetail(await call(`/agent/handoffs/${handoffId}`));
      $("reply").focus();
    } catch (exc) {
      alertError(exc.message);
    }
  }

  async function reloadCurrent() {
    if (!state.current || !state.current.handoffId) return;
    try {
      const detail = await call(`/agent/handoffs/${state.current.handoffId}`);
      openDetail(detail, state.current.callbackId, { keepFocus: true });
    } catch (_) {
      /* shown on the next action */
    }
  }

  // ---- the open handoff -----------------------------------------------------------------------------------

  function openDetail(detail, callbackId = null, { keepFocus } = {}) {
    const sameChat = state.current && state.current.conversationId === detail.conversation_id;
    if (!sameChat) {
      state.current = { handoffId: detail.handoff_id, callbackId, conversationId: detail.conversation_id, lastSeq: 0, rendered: new Map() };
      $("transcript").replaceChildren();
      showSupplierTyping(false);
    } else {
      state.current.handoffId = detail.handoff_id;
      if (callbackId) state.current.callbackId = callbackId;
    }
    state.current.detail = detail;
    const p = detail.prechat || {};
    const name = [p.first_name, p.last_name].filter(Boolean).join(" ") || "Supplier";
    $("work-title").textContent = `${name}: ${detail.topic_label}`;
    $("work-empty").hidden = true;
    $("handoff-view").hidden = false;

    const facts = [
      ["Reason", detail.reason_text],
      ["Topic", detail.topic_label],
      ["Detail from the assistant", detail.detail],
      ["Asked for a person", new Date(detail.requested_at).toLocaleString()],
      ["Status", statusText(detail)],
      ["Agent", detail.agent ? detail.agent.name : null],
      ["Transfer notes", detail.internal_notes],
      ["Disposition", detail.disposition],
      ["Rating", detail.rating ? `${detail.rating.rating} out of 5${detail.rating.comment ? `: ${detail.rating.comment}` : ""}` : null],
    ];
    fillFacts($("facts"), facts);
    fillFacts($("prechat"), detail.prechat_answers.map((a) => [a.label, a.value]));
    const supplier = detail.supplier;
    $("supplier").replaceChildren(
      supplier
        ? h(
            "dl",
            { class: "facts" },
            h("dt", {}, "User ID"),
            h("dd", {}, supplier.user_id),
            h("dt", {}, "Name"),
            h("dd", {}, `${supplier.first_name} ${supplier.last_name}`),
            h("dt", {}, "Bidder numbers"),
            h("dd", {}, supplier.bidder_numbers.map((n, i) => `${n}${supplier.organizations[i] ? ` (${supplier.organizations[i]})` : ""}`).join(", ") || "None"),
          )
        : h("p", { class: "muted" }, "Not signed in: check the identity of the supplier before discussing their account."),
    );

    const callback = detail.callback;
    $("callback-box").hidden = !callback;
    if (callback) {
      fillFacts($("callback-facts"), [
        ["Phone", callback.phone],
        ["Best time", callback.best_time],
        ["Status", callback.state === "claimed" ? `Taken by ${callback.agent ? callback.agent.name : "an agent"}` : callback.state],
        ["Disposition", callback.disposition],
      ]);
      state.current.callbackId = callback.id;
      $("callback-form").hidden = !(callback.state === "claimed" && callback.agent && callback.agent.user_id === state.me.user_id);
    }
    const mine = detail.state === "with_agent" && detail.agent && detail.agent.user_id === state.me.user_id;
    $("chat-box").hidden = !!callback && detail.state !== "with_agent";
    for (const form of [$("reply-form"), $("transfer-form"), $("close-form")]) {
      form.hidden = !mine;
    }
    for (const message of detail.transcript) addMessage(message);
    renderUploads(detail);
    if (!sameChat) watchCurrent();
    if (!keepFocus && !mine) $("work-title").focus();
  }

  function statusText(detail) {
    return {
      queued: "Waiting in the queue",
      with_agent: "With an agent",
      after_hours: "Asked after hours",
      left: "The supplier left the queue",
      closed: "Closed",
      abandoned: "The chat ended while waiting",
    }[detail.state] || detail.state;
  }

  function fillFacts(dl, pairs) {
    dl.replaceChildren();
    for (const [term, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      dl.append(h("dt", {}, term), h("dd", {}, String(value)));
    }
  }

  function whoOf(message) {
    if (message.sender === "user") return "Supplier";
    if (message.sender === "bot") return "Assistant";
    if (message.sender === "agent") return (message.data && message.data.agent_name) || "Agent";
    return "System";
  }

  /** Words for a message without text: what the bot asked the widget to do (sign-in panel, handoff...). */
  function describeData(data) {
    const custom = data && data.custom;
    if (custom && custom.type) {
      const what = custom.type.replace(/_/g, " ");
      return `(The widget showed: ${what}${custom.state ? `, ${custom.state.replace(/_/g, " ")}` : ""}.)`;
    }
    return data && data.button_payload ? data.button_payload : "";
  }

  function addMessage(message) {
    const current = state.current;
    if (!current || current.rendered.has(message.seq)) return;
    const element = h(
      "div",
      { class: `line ${message.sender} ${message.kind}`, "data-seq": String(message.seq) },
      h("span", { class: "who" }, whoOf(message)),
      " ",
      h("time", { datetime: message.created_at }, formatTime(message.created_at)),
      h("p", {}, message.text || describeData(message.data)),
    );
    let before = null;
    for (const [seq, other] of current.rendered) {
      if (seq > message.seq && (!before || Number(before.dataset.seq) > seq)) before = other;
    }
    $("transcript").insertBefore(element, before);
    current.rendered.set(message.seq, element);
    current.lastSeq = Math.max(current.lastSeq, message.seq);
    if (message.sender === "user") showSupplierTyping(false);
    const log = $("transcript");
    log.scrollTop = log.scrollHeight;
  }

  function showSupplierTyping(on) {
    window.clearTimeout(state.supplierTypingTimer);
    $("typing").textContent = on ? "The supplier is typing…" : "";
    if (on) state.supplierTypingTimer = window.setTimeout(() => showSupplierTyping(false), 10000);
  }

  function renderUploads(detail) {
    const box = $("uploads");
    if (!detail.upload_history) {
      box.replaceChildren(h("p", { class: "muted" }, "The supplier is not signed in, so their upload history is not available."));
      return;
    }
    if (!detail.upload_history.length) {
      box.replaceChildren(h("p", { class: "muted" }, "No uploads yet."));
      return;
    }
    const head = h("tr", {}, ...["Uploaded", "Bidder", "Document", "File", "Confirmation"].map((t) => h("th", { scope: "col" }, t)));
    const rows = detail.upload_history.map((u) =>
      h(
        "tr",
        {},
        h("td", {}, u.uploaded_at_text),
        h("td", {}, u.bidder_number),
        h("td", {}, u.description_name + (u.cba_name ? ` (${u.cba_name})` : "")),
        h("td", {}, u.file_name),
        h("td", {}, u.confirmation_number),
      ),
    );
    box.replaceChildren(
      h(
        "table",
        { class: "table" },
        h("caption", { class: "sr-only" }, `The supplier's latest uploads, newest first (${detail.upload_history_total} in all)`),
        h("thead", {}, head),
        h("tbody", {}, rows),
      ),
      detail.upload_history_total > detail.upload_history.length
        ? h("p", { class: "muted" }, `Showing the latest ${detail.upload_history.length} of ${detail.upload_history_total}.`)
        : null,
    );
  }

  // ---- replying, typing, canned replies, transfer, close ---------------------------------------------------

  function sendTyping(on) {
    if (state.typingOn === on || !state.current) return;
    state.typingOn = on;
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify({ type: "typing", conversation_id: state.current.conversationId, on }));
    }
  }

  async function loadCannedReplies() {
    try {
      const replies = await call("/agent/canned-replies");
      const select = $("canned");
      for (const reply of replies) {
        const option = h("option", { value: reply.id }, reply.title);
        option.dataset.text = reply.text;
        select.append(option);
      }
    } catch (_) {
      /* replies can be typed */
    }
  }

  async function loadAgents() {
    try {
      const agents = await call("/agent/agents");
      const select = $("transfer-to");
      for (const agent of agents) {
        if (agent.user_id !== state.me.user_id) select.append(h("option", { value: agent.user_id }, agent.name));
      }
    } catch (_) {
      /* transfer to the queue stays possible */
    }
  }

  function wireForms() {
    $("insert-canned").addEventListener("click", () => {
      const option = $("canned").selectedOptions[0];
      if (!option || !option.value) {
        announce("Choose a canned reply first.");
        $("canned").focus();
        return;
      }
      const reply = $("reply");
      reply.value = reply.value ? `${reply.value}\n${option.dataset.text}` : option.dataset.text;
      reply.focus();
    });

    $("reply").addEventListener("input", () => {
      sendTyping(true);
      window.clearTimeout(state.typingTimer);
      state.typingTimer = window.setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
    });

    $("reply").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        $("reply-form").requestSubmit();
      }
    });

    $("reply-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const reply = $("reply");
      const text = reply.value.trim();
      if (!text || !state.current) {
        announce("Type a reply first.");
        reply.focus();
        return;
      }
      try {
        const message = await call(`/agent/handoffs/${state.current.handoffId}/messages`, { method: "POST", body: { text } });
        reply.value = "";
        sendTyping(false);
        addMessage(message);
        reply.focus();
      } catch (exc) {
        alertError(exc.message);
      }
    });

    $("transfer-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!state.current) return;
      const to = $("transfer-to").value || null;
      try {
        const detail = await call(`/agent/handoffs/${state.current.handoffId}/transfer`, {
          method: "POST",
          body: { to_agent: to, note: $("transfer-note").value },
        });
        $("transfer-note").value = "";
        announce(to ? `The chat went to ${detail.agent ? detail.agent.name : to}.` : "The chat went back to the queue.");
        await refreshMine();
        openDetail(detail);
      } catch (exc) {
        alertError(exc.message);
      }
    });

    $("close-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!state.current) return;
      const note = $("disposition");
      if (!note.value.trim()) {
        alertError("Write a disposition note: what was done for the supplier.");
        note.setAttribute("aria-invalid", "true");
        note.focus();
        return;
      }
      note.removeAttribute("aria-invalid");
      try {
        const detail = await call(`/agent/handoffs/${state.current.handoffId}/close`, { method: "POST", body: { disposition: note.value } });
        note.value = "";
        sendTyping(false);
        announce("The chat is closed. The supplier is asked for a rating.");
        await refreshMine();
        openDetail(detail);
      } catch (exc) {
        alertError(exc.message);
      }
    });

    $("callback-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!state.current || !state.current.callbackId) return;
      const note = $("callback-note");
      if (!note.value.trim()) {
        alertError("Write what happened on the call.");
        note.focus();
        return;
      }
      try {
        const detail = await call(`/agent/callbacks/${state.current.callbackId}/complete`, { method: "POST", body: { disposition: note.value } });
        note.value = "";
        announce("The call is recorded.");
        openDetail(detail, state.current.callbackId);
      } catch (exc) {
        alertError(exc.message);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
