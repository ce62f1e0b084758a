/**
 * What the Functions host is told when it loads the app, for each queue transport. A child process loads
 * functions/index.ts with a stand-in for the host's `@azure/functions-core` module on NODE_PATH
 * (test/support/functionsHost), so `@azure/functions` registers every function there, with the bindings the
 * host would index, instead of skipping registration in test mode.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { QUEUE_NAMES } from "../../shared/config.js";

const root = join(import.meta.dirname, "../..");
const run = promisify(execFile);

interface Binding {
  type: string;
  direction: string;
  queueName?: string;
  connection?: string;
  isSessionsEnabled?: boolean;
  route?: string;
  methods?: string[];
}
interface Registered {
  registrations: Array<{ metadata: { name: string; bindings: Record<string, Binding> }; handler: string }>;
  httpFunctions: Array<{ name: string; route: string; methods: string[] }>;
  workerFunctions: Array<{ name: string; type: string }>;
}

/** Loads the app under `settings` (and nothing else from this process's environment) and returns what it registered. */
async function registered(settings: Record<string, string>): Promise<Registered> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "test/support/registrations.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH, NODE_PATH: join(root, "test/support/functionsHost"), ...settings },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Registered;
}

const triggerOf = (app: Registered, name: string): Binding => {
  const registration = app.registrations.find((r) => r.metadata.name === name);
  if (!registration) throw new Error(`${name} is not registered`);
  const triggers = Object.values(registration.metadata.bindings).filter((b) => b.direction === "in" && /Trigger$/.test(b.type));
  expect(triggers, name).toHaveLength(1);
  return triggers[0]!;
};

const transports = {
  // `func start` on Azurite with local.settings.json from the sample, and a prefix as the test stacks use.
  storage: { QUEUE_TRANSPORT: "storage", RESOURCE_PREFIX: "reg1", STORAGE_CONNECTION_STRING: "UseDevelopmentStorage=true" },
  // Azure: the namespace through the managed identity, no prefix.
  servicebus: { QUEUE_TRANSPORT: "servicebus", ServiceBusConnection__fullyQualifiedNamespace: "sb-test.servicebus.windows.net" },
  // Unset: the app sends to Storage queues (the settings' default), so that is where the triggers listen.
  unset: {},
} as const;

let apps: Record<keyof typeof transports, Registered>;
beforeAll(async () => {
  const entries = await Promise.all(Object.entries(transports).map(async ([key, settings]) => [key, await registered(settings)] as const));
  apps = Object.fromEntries(entries) as typeof apps;
}, 120_000);

describe.each([
  { transport: "storage", trigger: "queueTrigger", connection: "STORAGE_CONNECTION_STRING", prefix: "reg1" },
  { transport: "servicebus", trigger: "serviceBusTrigger", connection: "ServiceBusConnection", prefix: "" },
  { transport: "unset", trigger: "queueTrigger", connection: "STORAGE_CONNECTION_STRING", prefix: "" },
] as const)("QUEUE_TRANSPORT $transport", ({ transport, trigger, connection, prefix }) => {
  it("registers exactly the functions the local host serves, each once, each with its handler", () => {
    const app = apps[transport];
    const names = app.registrations.map((r) => r.metadata.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...app.httpFunctions.map((f) => f.name), ...app.workerFunctions.map((f) => f.name)].sort());
    for (const r of app.registrations) expect(r.handler, r.metadata.name).toBe("function");
  });

  it(`gives every worker a ${trigger} on its own queue, with the connection ${connection}`, () => {
    const app = apps[transport];
    expect(app.workerFunctions.map((f) => f.type).sort()).toEqual([...QUEUE_NAMES].sort());
    for (const { name, type } of app.workerFunctions) {
      const binding = triggerOf(app, name);
      expect(binding, name).toMatchObject({ type: trigger, queueName: `${prefix}${type}`, connection });
      expect(binding.isSessionsEnabled, name).toBeUndefined(); // no queue needs ordering
    }
  });

  it("registers every HTTP function on its route and methods", () => {
    const app = apps[transport];
    for (const { name, route, methods } of app.httpFunctions) {
      expect(triggerOf(app, name), name).toMatchObject({ type: "httpTrigger", route, methods: expect.arrayContaining(methods) });
    }
  });
});

describe("worker names", () => {
  it("line up end to end: function, file, queue and job module", () => {
    for (const { name, type } of apps.storage.workerFunctions) {
      // `mask-plan` -> maskPlanWorker in functions/maskPlanWorker.ts, running shared/jobs/maskPlan.ts.
      const job = name.replace(/Worker$/, "");
      expect(`${job}Worker`, type).toBe(name);
      expect(job.toLowerCase(), name).toBe(type.replaceAll("-", ""));
      expect(existsSync(join(root, "functions", `${name}.ts`)), name).toBe(true);
      expect(existsSync(join(root, "shared/jobs", `${job}.ts`)), name).toBe(true);
    }
  });
});
