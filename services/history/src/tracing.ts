/**
 * The history read span (docs/OPERATIONS.md, "Reading a trace"): every page read (HTTP and NATS requests, cache
 * hits included) is one span when tracing is on; with it off the reader is used as it is.
 */
import { inSpan, tracingOn } from "@switchboard/core";
import type { Reader } from "./reader.js";

export function tracedReader(reader: Reader): Reader {
  if (!tracingOn()) return reader;
  return {
    read: (q) =>
      inSpan(
        "history read",
        { "switchboard.app": q.app, "switchboard.room": q.room, "switchboard.limit": q.limit, "switchboard.direction": q.direction },
        async (span) => {
          const page = await reader.read(q);
          span?.setAttribute("switchboard.messages", page.messages.length);
          return page;
        },
      ),
    lastOffset: (app, room) => reader.lastOffset(app, room),
  };
}
