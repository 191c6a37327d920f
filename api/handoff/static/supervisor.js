/*
 * The supervisor view (/agent/supervisor): queue length, longest wait, chats per agent and satisfaction
 * averages by day, read from /api/v1/agent/supervisor every 10 seconds. The chart is an SVG made by the server
 * (escaped text only), parsed as XML and inserted as a node: no HTML string is ever assigned.
 */
(() => {
  "use strict";

  const { h, api, session, announcer, showError, mountSignIn, signOut, formatWait } = window.AgentCommon;
  const $ = (id) => document.getElementById(id);
  const announce = announcer($("announce"));
  let timer = null;

  async function start() {
    $("sign-out").addEventListener("click", async () => {
      window.clearInterval(timer);
      await signOut();
      window.location.reload();
    });
    if (session.get()) {
      try {
        return show(await api("/agent/me"));
      } catch (_) {
        session.set(null);
      }
    }
    $("sign-in").hidden = false;
    mountSignIn($("sign-in"), show);
  }

  async function show(agent) {
    $("sign-in").hidden = true;
    $("sign-in").replaceChildren();
    $("whoami").hidden = false;
    $("agent-name").textContent = agent.name;
    $("board").hidden = false;
    announce(`Signed in as ${agent.name}.`);
    await refresh();
    timer = window.setInterval(refresh, 10000);
  }

  async function refresh() {
    let stats;
    try {
      stats = await api("/agent/supervisor");
    } catch (exc) {
      showError($("alert"), exc.message);
      if (exc.status === 401) {
        window.clearInterval(timer);
        session.set(null);
        window.location.reload();
      }
      return;
    }
    showError($("alert"), "");
    $("updated").textContent = `Last update: ${new Date().toLocaleTimeString()}.`;
    $("chats-waiting").textContent = String(stats.chats_waiting);
    $("callbacks-waiting").textContent = String(stats.callbacks_waiting);
    $("longest-wait").textContent = stats.chats_waiting + stats.callbacks_waiting ? formatWait(stats.longest_wait_seconds) : "–";
    $("with-agents").textContent = String(stats.with_agents);
    $("agents").replaceChildren(
      ...stats.per_agent.map((a) => h("tr", {}, h("th", { scope: "row" }, a.name), h("td", {}, String(a.active)), h("td", {}, String(a.closed_today)))),
    );
    $("days").replaceChildren(
      ...stats.satisfaction_by_day
        .slice()
        .reverse()
        .map((d) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, new Date(`${d.day}T12:00:00`).toLocaleDateString([], { weekday: "short", month: "short", day: "numeric" })),
            h("td", {}, d.average === null ? "No ratings" : d.average.toFixed(2)),
            h("td", {}, String(d.ratings)),
          ),
        ),
    );
    const svg = new DOMParser().parseFromString(stats.chart_svg, "image/svg+xml").documentElement;
    if (svg && svg.nodeName === "svg") $("chart").replaceChildren(document.importNode(svg, true));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
