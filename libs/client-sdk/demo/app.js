/* global document, location, fetch, window -- a browser page */
// The demo chat: one room, messages with history, and who is here. Built only on the public client SDK API.
import { SwitchboardClient } from "@switchboard/client";

const ROOM = "demo:lobby";
const $ = (id) => document.getElementById(id);
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;

/** Messages shown, by offset: live pushes and history pages may overlap, the offset says which is which. */
const shown = new Map();
let oldestPage = null;

function showError(err) {
  $("error").textContent = err ? String(err.message ?? err) : "";
}

function render() {
  const list = $("messages");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.replaceChildren(
    ...[...shown.values()]
      .sort((a, b) => a.offset - b.offset)
      .map((m) => {
        const li = document.createElement("li");
        li.dataset.offset = String(m.offset);
        const who = document.createElement("span");
        who.className = "who";
        who.textContent = m.clientId ?? "server";
        const text = document.createElement("span");
        text.className = "text";
        text.textContent = typeof m.data?.text === "string" ? m.data.text : JSON.stringify(m.data);
        const offset = document.createElement("span");
        offset.className = "offset";
        offset.textContent = `#${m.offset}`;
        li.append(offset, who, text);
        return li;
      }),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function addMessages(messages) {
  for (const m of messages) if (m.event === "chat") shown.set(m.offset, m);
  render();
}

async function renderMembers(room) {
  const members = await room.presence.get();
  const byClient = new Map(members.map((m) => [m.clientId, m]));
  $("members").replaceChildren(
    ...[...byClient.keys()].sort().map((clientId) => {
      const li = document.createElement("li");
      li.textContent = clientId;
      return li;
    }),
  );
}

async function tokenSource(name) {
  const pasted = $("token").value.trim();
  if (pasted !== "") return async () => pasted;
  const probe = await fetch(`/demo/token?name=${encodeURIComponent(name)}`);
  if (!probe.ok) {
    $("paste").open = true;
    const body = await probe.json().catch(() => ({}));
    throw new Error(body.error?.message ?? `no demo token (${probe.status}); paste one`);
  }
  let first = (await probe.json()).token;
  return async () => {
    if (first !== undefined) {
      const t = first;
      first = undefined;
      return t;
    }
    const res = await fetch(`/demo/token?name=${encodeURIComponent(name)}`);
    if (!res.ok) throw new Error(`token refresh failed (${res.status})`);
    return (await res.json()).token;
  };
}

async function join(name) {
  const getToken = await tokenSource(name);
  const client = new SwitchboardClient({ url: wsUrl, getToken });
  client.on("state", (state) => {
    $("state").textContent = state;
    $("state").dataset.state = state;
  });
  client.on("error", showError);
  await client.connect();
  const room = client.room(ROOM);

  // Subscribe first, then read history: anything in both is shown once (same offset).
  await room.subscribe("chat", (m) => addMessages([m]));
  await room.presence.subscribe(() => void renderMembers(room).catch(showError));
  await room.presence.join({ name });
  oldestPage = await room.history.get({ limit: 20 });
  addMessages(oldestPage.items);
  $("older").hidden = !oldestPage.hasNext;
  await renderMembers(room);

  $("older").onclick = async () => {
    oldestPage = oldestPage && (await oldestPage.next());
    if (oldestPage) addMessages(oldestPage.items);
    $("older").hidden = !oldestPage?.hasNext;
  };
  $("send-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (text === "") return;
    try {
      await room.publish("chat", { text });
      $("text").value = "";
      showError(null);
    } catch (err) {
      showError(err);
    }
  };
  $("join-form").hidden = true;
  $("chat").hidden = false;
  $("text").focus();
  window.switchboardDemo = { client, room };
}

$("join-form").onsubmit = (ev) => {
  ev.preventDefault();
  showError(null);
  join($("name").value.trim()).catch(showError);
};
