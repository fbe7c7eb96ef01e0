/**
 * The Amazon IVS Chat control plane drop-in with the real, unmodified @aws-sdk/client-ivschat against real services:
 * endpoint = auth, accessKeyId = the Switchboard key id (appId.keyId), secretAccessKey = its secret. Rooms, chat
 * tokens (a native socket connects with one), SendEvent, DeleteMessage and DisconnectUser reaching that socket;
 * every error the SDK can raise (its own exception types, never a 5xx for a mistake); and SigV4 attacks (wrong
 * secret, unknown key, stale date, tampered body, tampered region or service).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateChatTokenCommand,
  CreateRoomCommand,
  DeleteMessageCommand,
  DeleteRoomCommand,
  DisconnectUserCommand,
  GetRoomCommand,
  IvschatClient,
  ListRoomsCommand,
  SendEventCommand,
  UpdateRoomCommand,
  type CreateChatTokenCommandInput,
} from "@aws-sdk/client-ivschat";
import type { Cluster } from "./helpers/cluster.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";
import { splitKey } from "./helpers/auth.js";
import { createAppKey, ivsClient, startVendorCluster } from "./helpers/vendors.js";

let cluster: Cluster;
let ivs: IvschatClient;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  cluster = await startVendorCluster();
  ivs = ivsClient(cluster, cluster.devKey);
}, 180_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await (cluster as Cluster | undefined)?.close();
});

/** What a finalize-step middleware sees of a request, as far as these tests change it. */
type FinalizeArgs = { request: { body?: unknown; headers: Record<string, string> } };

type SdkError = Error & { $metadata?: { httpStatusCode?: number }; [k: string]: unknown };

async function failure(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error("expected the call to fail");
}

async function socketFor(input: CreateChatTokenCommandInput): Promise<TestSocket> {
  const { token } = await ivs.send(new CreateChatTokenCommand(input));
  const s = openSocket(cluster.wsUrl(token ?? ""));
  sockets.push(s);
  await s.waitFor((f) => f.type === "connected");
  return s;
}

describe("@aws-sdk/client-ivschat against Switchboard", () => {
  it("manages rooms, issues chat tokens that connect, and moderates through the SDK", async () => {
    const created = await ivs.send(new CreateRoomCommand({ name: "lobby", maximumMessageLength: 200, tags: { team: "a" } }));
    expect(created.id).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(created.arn).toMatch(new RegExp(`^arn:aws:ivschat:us-west-2:\\d{12}:room/${created.id ?? ""}$`));
    expect(created).toMatchObject({ name: "lobby", maximumMessageLength: 200, maximumMessageRatePerSecond: 10, tags: { team: "a" } });
    expect(created.createTime).toBeInstanceOf(Date);
    const room = created.id ?? "";
    const updated = await ivs.send(new UpdateRoomCommand({ identifier: created.arn, maximumMessageRatePerSecond: 5 }));
    expect(updated).toMatchObject({ maximumMessageLength: 200, maximumMessageRatePerSecond: 5 });
    expect(await ivs.send(new GetRoomCommand({ identifier: room }))).toMatchObject({ id: room, maximumMessageRatePerSecond: 5 });
    const listed = await ivs.send(new ListRoomsCommand({ name: "lobby" }));
    expect(listed.rooms?.map((r) => r.id)).toEqual([room]);

    const before = Date.now();
    const issued = await ivs.send(
      new CreateChatTokenCommand({
        roomIdentifier: created.arn,
        userId: "alice",
        capabilities: ["SEND_MESSAGE", "DELETE_MESSAGE"],
        sessionDurationInMinutes: 30,
        attributes: { displayName: "Alice" },
      }),
    );
    expect(issued.token).toMatch(/^[A-Za-z0-9._~-]+$/); // a valid WebSocket subprotocol token
    expect(issued.sessionExpirationTime).toBeInstanceOf(Date);
    expect((issued.sessionExpirationTime?.getTime() ?? 0) - before).toBeGreaterThan(29 * 60_000);

    const alice = openSocket(cluster.wsUrl(issued.token ?? ""));
    sockets.push(alice);
    expect(await alice.waitFor((f) => f.type === "connected")).toMatchObject({ clientId: "alice" });
    const bob = await socketFor({ roomIdentifier: room, userId: "bob" });
    for (const s of [alice, bob]) expect((await s.request("subscribe", { room }))["ok"]).toBe(true);

    // SEND_MESSAGE → publish; without it, publishing is refused.
    const sent = await alice.request("publish", { room, event: "message", data: { content: "hi" } });
    expect(sent["ok"]).toBe(true);
    const messageId = (sent["result"] as { id: string }).id;
    await bob.waitFor((f) => f.type === "message" && f["id"] === messageId);
    expect((await bob.request("publish", { room, event: "message", data: { content: "no" } }))["ok"]).toBe(false);

    const event = await ivs.send(new SendEventCommand({ roomIdentifier: created.arn, eventName: "app:poll", attributes: { q: "lunch?" } }));
    expect(event.id).toBeDefined();
    expect(await bob.waitFor((f) => f.type === "message" && f["event"] === "app:poll")).toMatchObject({
      id: event.id,
      data: { q: "lunch?" },
    });

    const deleted = await ivs.send(new DeleteMessageCommand({ roomIdentifier: room, id: messageId, reason: "rude" }));
    expect(deleted.id).toBeDefined();
    await bob.waitFor((f) => f.type === "message.deleted" && f["id"] === messageId);

    await ivs.send(new DisconnectUserCommand({ roomIdentifier: room, userId: "bob", reason: "spam" }));
    expect((await bob.closed).code).toBe(4004);

    await ivs.send(new DeleteRoomCommand({ identifier: room }));
    const gone = await failure(ivs.send(new GetRoomCommand({ identifier: room })));
    expect(gone.name).toBe("ResourceNotFoundException");
    expect(gone).toMatchObject({ resourceId: room, resourceType: "ROOM" });
  });

  it("raises the SDK's own exception for each mistake, never a 5xx", async () => {
    const { id: room = "" } = await ivs.send(new CreateRoomCommand({}));
    const cases: Array<[() => Promise<unknown>, string, number, string | undefined]> = [
      [
        () => ivs.send(new CreateChatTokenCommand({ roomIdentifier: "nosuchroom01", userId: "u" })),
        "ResourceNotFoundException",
        404,
        undefined,
      ],
      // The SDK validates nothing: wrong values reach the server, which names the field.
      [
        () => ivs.send(new CreateChatTokenCommand({ roomIdentifier: room, userId: "u", capabilities: ["FLY" as "SEND_MESSAGE"] })),
        "ValidationException",
        400,
        "capabilities.0",
      ],
      [
        () => ivs.send(new CreateChatTokenCommand({ roomIdentifier: room, userId: "u", sessionDurationInMinutes: 9999 })),
        "ValidationException",
        400,
        "sessionDurationInMinutes",
      ],
      [() => ivs.send(new CreateChatTokenCommand({ roomIdentifier: room, userId: "" })), "ValidationException", 400, "userId"],
      [
        () => ivs.send(new CreateChatTokenCommand({ roomIdentifier: room, userId: "u", attributes: { a: "x".repeat(2000) } })),
        "ValidationException",
        400,
        "attributes",
      ],
      [() => ivs.send(new SendEventCommand({ roomIdentifier: room, eventName: "has space" })), "ValidationException", 400, "eventName"],
      [() => ivs.send(new DeleteMessageCommand({ roomIdentifier: room, id: "nothing" })), "ValidationException", 400, "id"],
      [() => ivs.send(new CreateRoomCommand({ maximumMessageLength: 501 })), "ValidationException", 400, "maximumMessageLength"],
      [
        () => ivs.send(new CreateRoomCommand({ messageReviewHandler: { uri: "arn:aws:lambda:us-west-2:1:function:f" } })),
        "ValidationException",
        400,
        "messageReviewHandler",
      ],
    ];
    for (const [call, name, status, field] of cases) {
      const err = await failure(call());
      expect({ name: err.name, status: err.$metadata?.httpStatusCode }).toEqual({ name, status });
      if (field !== undefined) {
        expect(err["reason"]).toBe("FIELD_VALIDATION_FAILED");
        expect((err["fieldList"] as Array<{ name: string }>)[0]?.name).toBe(field);
      }
    }
    // Another app cannot reach this app's room, by ARN or by id.
    const other = ivsClient(cluster, await createAppKey(cluster, "other-ivs"));
    const { arn } = await ivs.send(new GetRoomCommand({ identifier: room }));
    expect((await failure(other.send(new CreateChatTokenCommand({ roomIdentifier: arn, userId: "u" })))).name).toBe(
      "ResourceNotFoundException",
    );
    expect((await failure(other.send(new SendEventCommand({ roomIdentifier: room, eventName: "x" })))).name).toBe(
      "ResourceNotFoundException",
    );
  });

  it("refuses requests with a wrong secret, an unknown key, a stale date, a tampered body, region or service", async () => {
    const k = splitKey(cluster.devKey);
    const call = (c: IvschatClient) => c.send(new CreateRoomCommand({ name: "x" }));
    const wrong = await failure(call(ivsClient(cluster, `${k.kid}:${k.secret}x`)));
    expect({ name: wrong.name, status: wrong.$metadata?.httpStatusCode }).toEqual({ name: "InvalidSignatureException", status: 403 });
    expect((await failure(call(ivsClient(cluster, `nobody.nokey:${k.secret}`)))).name).toBe("UnrecognizedClientException");
    const stale = await failure(call(ivsClient(cluster, cluster.devKey, { systemClockOffset: -20 * 60_000 })));
    expect(stale.name).toBe("InvalidSignatureException");
    expect(stale.message).toMatch(/^Signature expired/);
    // Temporary credentials: the session token is sent and signed, and honoured.
    const withToken = ivsClient(cluster, cluster.devKey, {
      credentials: { accessKeyId: k.kid, secretAccessKey: k.secret, sessionToken: "temporary-session" },
    });
    expect((await call(withToken)).name).toBe("x");
    // Any region signs (the ARN follows it).
    expect((await call(ivsClient(cluster, cluster.devKey, {}, "eu-west-1"))).arn).toMatch(/^arn:aws:ivschat:eu-west-1:/);

    /** A client whose request is changed after the SDK signed it. */
    const tampering = (change: (req: { body?: unknown; headers: Record<string, string> }) => void) => {
      const c = ivsClient(cluster, cluster.devKey);
      const tamper = (next: (args: FinalizeArgs) => Promise<unknown>) => (args: FinalizeArgs) => {
        change(args.request);
        return next(args);
      };
      // The SDK's middleware type is a union over steps; this one runs in the finalize step, after signing.
      c.middlewareStack.addRelativeTo(tamper as unknown as Parameters<typeof c.middlewareStack.addRelativeTo>[0], {
        relation: "after",
        toMiddleware: "httpSigningMiddleware",
        name: "tamper",
      });
      return c;
    };
    const body = await failure(call(tampering((r) => void (r.body = JSON.stringify({ name: "y" })))));
    expect(body.name).toBe("InvalidSignatureException");
    const region = await failure(
      call(tampering((r) => void (r.headers["authorization"] = (r.headers["authorization"] ?? "").replace("/us-west-2/", "/us-east-1/")))),
    );
    expect(region.name).toBe("InvalidSignatureException");
    const service = await failure(
      call(tampering((r) => void (r.headers["authorization"] = (r.headers["authorization"] ?? "").replace("/ivschat/", "/ivs/")))),
    );
    expect(service.name).toBe("InvalidSignatureException");
    expect(service.message).toBe("Credential should be scoped to correct service: 'ivschat'.");
  });
});
