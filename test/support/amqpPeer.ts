import type { AddressInfo, Server, Socket } from "node:net";
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Message, type Sender } from "rhea";

/**
 * A stand-in for the Service Bus broker side that `@azure/service-bus` talks to, built on rhea.
 * The SDK always authenticates over `$cbs` before it opens a link, so no stock AMQP broker works;
 * this peer answers CBS put-token requests, accepts the client's sender links per queue, records
 * every message it receives, and can be told to refuse links, tokens or messages, or to vanish.
 */

/** An AMQP error condition, as Service Bus sends it on a detach or a rejected delivery. */
export interface AmqpRefusal {
  condition: string;
  description: string;
}

export const refusals = {
  /** Transient: the SDK retries it. */
  serverBusy: (queue = "queue"): AmqpRefusal => ({
    condition: "com.microsoft:server-busy",
    description: `The request was terminated because the entity ${queue} is being throttled. Please wait and try again.`,
  }),
  /** Permanent: the SDK gives up at once. */
  entityNotFound: (queue = "queue"): AmqpRefusal => ({
    condition: "amqp:not-found",
    description: `The messaging entity 'sb://127.0.0.1/${queue}' could not be found.`,
  }),
  /** The SDK treats it as retryable (credentials may have been rotated). */
  unauthorized: (): AmqpRefusal => ({
    condition: "amqp:unauthorized-access",
    description: "Unauthorized access. 'Send' claim(s) are required to perform this operation.",
  }),
} as const;

export interface ReceivedMessage {
  /** The link's target address, i.e. the queue name. */
  queue: string;
  messageId: string | undefined;
  contentType: string | undefined;
  subject: string | undefined;
  /** The AMQP group id: Service Bus's session id. */
  sessionId: string | undefined;
  /** JSON bodies are parsed; other data sections come back as a utf8 string. */
  body: unknown;
  applicationProperties: Record<string, unknown> | undefined;
  /** Service Bus's scheduled enqueue time (message annotation `x-opt-scheduled-enqueue-time`), if any. */
  scheduledEnqueueTime?: Date;
}

export interface LinkAttempt {
  queue: string;
  refused: boolean;
}

export interface TokenRequest {
  /** The claim's audience, e.g. `sb://127.0.0.1:1234/imageset-copy`. */
  audience: string;
  tokenType: string;
  status: number;
}

export interface AmqpPeerState {
  /** Refuse the client's sender links: for every queue, or only for the named queues. */
  refuseLinks?: { refusal: AmqpRefusal; queues?: readonly string[] } | undefined;
  /** Reject every message (the link stays up): the SDK surfaces the condition. */
  rejectMessages?: AmqpRefusal | undefined;
  /** Answer put-token with this status instead of 200. */
  tokenStatus?: { code: number; description: string } | undefined;
}

export class AmqpPeer {
  readonly messages: ReceivedMessage[] = [];
  readonly linkAttempts: LinkAttempt[] = [];
  readonly tokenRequests: TokenRequest[] = [];
  readonly rejectedMessages: ReceivedMessage[] = [];
  /** What the peer refuses; change it at any time. */
  state: AmqpPeerState = {};

  private readonly sockets = new Set<Socket>();
  private listening = true;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly container: Container,
    private readonly server: Server,
  ) {}

  /** Starts listening on an ephemeral port of 127.0.0.1. */
  static async start(): Promise<AmqpPeer> {
    // autoaccept off: the peer settles each delivery itself, so it can reject on demand.
    const container = rhea.create_container({ id: "amqp-test-peer", autoaccept: false });
    const server = container.listen({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    const peer = new AmqpPeer(container, server);
    peer.wire();
    return peer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The connection string the SDK needs: plain TCP to this port (UseDevelopmentEmulator), any SAS name and key. */
  get connectionString(): string {
    return `Endpoint=sb://127.0.0.1:${this.port}/;SharedAccessKeyName=x;SharedAccessKey=y;UseDevelopmentEmulator=true;`;
  }

  messagesFor(queue: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.queue === queue);
  }

  attemptsFor(queue: string): LinkAttempt[] {
    return this.linkAttempts.filter((a) => a.queue === queue);
  }

  /** Resolves once at least `count` messages have arrived, or rejects after `timeoutMs`. */
  async waitForMessages(count: number, timeoutMs = 5000): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`peer got ${this.messages.length} of ${count} messages within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages;
  }

  /** Cuts every open connection (like a broker restart); new connections are still accepted. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** The broker disappears: stops listening and cuts every connection, so reconnects are refused. */
  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dropConnections();
    await closed;
  }

  private wire(): void {
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    const c = this.container;
    // Errors the client causes (it closing mid-handshake, say) must not crash the test process.
    c.on("error", () => undefined);
    c.on("connection_error", () => undefined);
    c.on("receiver_open", (ctx: EventContext) => this.onClientSender(ctx));
    c.on("sender_open", (ctx: EventContext) => {
      // The client's receiver links: only the `$cbs` reply link matters to a sending client.
      ctx.sender?.set_source(ctx.sender.source);
      ctx.sender?.set_target(ctx.sender.target);
    });
    c.on("message", (ctx: EventContext) => this.onMessage(ctx));
  }

  /** The client's sender link arrives here as our receiver: `$cbs` or a queue. */
  private onClientSender(ctx: EventContext): void {
    const receiver = ctx.receiver;
    if (!receiver) return;
    const queue = targetAddress(receiver.target);
    const refusal = this.state.refuseLinks;
    const refused = queue !== "$cbs" && refusal !== undefined && (refusal.queues === undefined || refusal.queues.includes(queue));
    if (queue !== "$cbs") this.linkAttempts.push({ queue, refused });
    if (refused) {
      // Service Bus refuses a link by answering the attach with a null target and then detaching with
      // the error; rhea has queued our attach (target unset, so null) and the detach goes out with it.
      receiver.close({ condition: refusal.refusal.condition, description: refusal.refusal.description });
      return;
    }
    // Echo the terminus so the client sees its link accepted.
    receiver.set_source(receiver.source);
    receiver.set_target(receiver.target);
  }

  private onMessage(ctx: EventContext): void {
    const { receiver, message, delivery, connection } = ctx;
    if (!receiver || !message || !delivery) return;
    const address = targetAddress(receiver.target);
    if (address === "$cbs") {
      this.answerPutToken(connection, message, delivery);
      return;
    }
    const received: ReceivedMessage = {
      queue: address,
      messageId: message.message_id === undefined ? undefined : String(message.message_id),
      contentType: message.content_type,
      subject: message.subject,
      sessionId: message.group_id === undefined ? undefined : String(message.group_id),
      body: decodeBody(message),
      applicationProperties: message.application_properties,
    };
    const scheduled = message.message_annotations?.["x-opt-scheduled-enqueue-time"];
    if (scheduled !== undefined) received.scheduledEnqueueTime = new Date(scheduled as Date | number);
    const reject = this.state.rejectMessages;
    if (reject) {
      this.rejectedMessages.push(received);
      delivery.reject({ condition: reject.condition, description: reject.description });
      return;
    }
    this.messages.push(received);
    delivery.accept();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** CBS: the client sends a token to `$cbs` and waits for a reply, correlated by message id, on its reply-to link. */
  private answerPutToken(connection: Connection, request: Message, delivery: Delivery): void {
    delivery.accept();
    const props = request.application_properties ?? {};
    const status = this.state.tokenStatus ?? { code: 200, description: "OK" };
    this.tokenRequests.push({ audience: String(props.name ?? ""), tokenType: String(props.type ?? ""), status: status.code });
    const replySender = findReplySender(connection, request.reply_to);
    if (!replySender) return; // the client times out, as it would against a broken broker
    const reply: Message = {
      body: undefined,
      correlation_id: request.message_id,
      to: request.reply_to,
      application_properties: { "status-code": status.code, "status-description": status.description },
    };
    replySender.send(reply);
  }
}

function targetAddress(target: unknown): string {
  const address = (target as { address?: unknown } | undefined)?.address;
  return typeof address === "string" ? address : "";
}

/** The client's `$cbs` receiver link is named after its reply-to address. */
function findReplySender(connection: Connection, replyTo: string | undefined): Sender | undefined {
  const isCbs = (link: Sender) => targetAddress(link.source) === "$cbs";
  return connection.find_sender((link: Sender) => isCbs(link) && link.name === replyTo) ?? connection.find_sender((link: Sender) => isCbs(link));
}

function decodeBody(message: Message): unknown {
  const body: unknown = message.body;
  let bytes: Buffer | undefined;
  if (Buffer.isBuffer(body)) bytes = body;
  else if (body && typeof body === "object" && "content" in body && Buffer.isBuffer(body.content)) {
    // A data section (typecode 0x75), which is how the SDK encodes non-binary bodies: JSON text.
    bytes = (body as { content: Buffer }).content;
  }
  if (!bytes) return body;
  const text = bytes.toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
