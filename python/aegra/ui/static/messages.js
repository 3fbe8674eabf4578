// A chat transcript kept in step with a run's stream: token chunks (`messages-tuple` mode) grow
// a message as they come, tool calls and tool results show as such, and each `values` event
// (the thread's whole message list) settles the order and the final text.
import { h, preview, replace } from "./dom.js";

const ROLES = { human: "You", user: "You", ai: "Assistant", assistant: "Assistant", tool: "Tool", system: "System" };

function kind(message) {
  const type = (message.type || message.role || "ai").replace(/Chunk$/, "");
  return { AIMessage: "ai", HumanMessage: "human", ToolMessage: "tool", AIMessageChunk: "ai", user: "human", assistant: "ai" }[type] || type.toLowerCase();
}

/** The text of a message's content: a string, or the text parts of a list of content blocks. */
export function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return content == null ? "" : preview(content, 400);
  return content.map((block) => (typeof block === "string" ? block : block?.type === "text" ? block.text : "")).join("");
}

function toolCallText(call) {
  const args = typeof call.args === "string" ? call.args : JSON.stringify(call.args ?? {});
  return `→ ${call.name || "tool"}(${args})`;
}

export function transcript(list) {
  const shown = new Map(); // message id -> {element, message, streaming, chunks}

  function draw(entry) {
    const { message } = entry;
    const role = kind(message);
    const who = role === "tool" ? `Tool result${message.name ? `: ${message.name}` : ""}` : ROLES[role] || role;
    const calls = entry.calls.length ? entry.calls : message.tool_calls || [];
    replace(
      entry.element,
      h("span", { class: "who" }, who),
      h("span", { class: "text" }, textOf(message.content)),
      calls.map((call) => h("div", { class: "tool-call", "aria-label": "Tool call" }, toolCallText(call))),
    );
    entry.element.className = `msg ${role}${entry.streaming ? " streaming" : ""}`;
    entry.element.dataset.role = role;
  }

  function upsert(message, streaming = false) {
    const id = message.id || `anon-${shown.size}`;
    let entry = shown.get(id);
    if (!entry) {
      entry = { element: h("li", { dataset: { id } }), message, streaming, calls: [] };
      shown.set(id, entry);
      list.append(entry.element);
    }
    entry.message = message;
    entry.streaming = streaming;
    if (!streaming) entry.calls = []; // a whole message's own tool_calls are the final word
    draw(entry);
    return entry;
  }

  return {
    clear() {
      shown.clear();
      list.replaceChildren();
    },
    /** A whole message (from state, a `values` event, or a complete message in the stream). */
    put(message) {
      upsert(message, false);
    },
    /** A token chunk: its text and tool-call pieces add to the message with the same id. */
    chunk(chunk) {
      const existing = shown.get(chunk.id);
      if (existing && !existing.streaming) return; // already settled by a values event
      const entry = existing || upsert({ ...chunk, content: "" }, true);
      entry.message = { ...entry.message, content: textOf(entry.message.content) + textOf(chunk.content) };
      for (const piece of chunk.tool_call_chunks || []) {
        const index = piece.index ?? entry.calls.length;
        const call = (entry.calls[index] ||= { name: "", args: "", id: piece.id });
        call.name += piece.name || "";
        call.args += piece.args || "";
      }
      entry.streaming = chunk.chunk_position !== "last";
      draw(entry);
    },
    /** The thread's full message list: settle every message and put them in its order. */
    sync(messages) {
      for (const message of messages) upsert(message, false);
      for (const message of messages) {
        const entry = shown.get(message.id);
        if (entry) list.append(entry.element); // moves it: the list ends up in the state's order
      }
      for (const entry of shown.values()) {
        if (entry.streaming) list.append(entry.element); // still growing: after the settled ones
      }
    },
    /** Stop showing messages as growing (the stream ended or was stopped). */
    settle() {
      for (const entry of shown.values()) {
        if (entry.streaming) {
          entry.streaming = false;
          draw(entry);
        }
      }
    },
  };
}
