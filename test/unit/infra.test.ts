import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig, QUEUE_NAMES, settingsSchema, TABLE_NAMES } from "../../shared/config.js";

/**
 * No Bicep compiler runs here, so these checks read the templates as text and keep them in step with
 * the code: every setting the app needs in Azure is set, every queue/table/container the code names
 * exists, nothing carries a key, and host.json / local.settings.sample.json say what the code assumes.
 */

/**
 * Settings that exist only for the local host and tests and must not be set in Azure:
 * - STORAGE_CONNECTION_STRING, SERVICEBUS_CONNECTION_STRING: Azure uses the managed identity, no keys.
 * - LOCAL_ADMIN_KEY/SECRET/EMAIL: the local host seeds an admin; in Azure `npm run create-admin` does it once.
 * - PORT: the local HTTP host's port; in Azure the Functions host owns the port.
 * - RESOURCE_PREFIX: lets test files share one Azurite; an Azure deployment owns its account and namespace,
 *   so its queues (and the triggers that read them) carry no prefix.
 * - STORAGE_BLOB/QUEUE/TABLE_ENDPOINT: identity clients against Azurite over HTTPS (the managed-identity
 *   test); in Azure the defaults derived from STORAGE_ACCOUNT_NAME are the account's endpoints.
 * Every other key of settingsSchema is needed in Azure and must be in the Function App's app settings.
 */
const LOCAL_ONLY = [
  "STORAGE_CONNECTION_STRING",
  "SERVICEBUS_CONNECTION_STRING",
  "LOCAL_ADMIN_KEY",
  "LOCAL_ADMIN_SECRET",
  "LOCAL_ADMIN_EMAIL",
  "PORT",
  "RESOURCE_PREFIX",
  "STORAGE_BLOB_ENDPOINT",
  "STORAGE_QUEUE_ENDPOINT",
  "STORAGE_TABLE_ENDPOINT",
] as const;

/** App settings whose value in Azure is fixed by the design. */
const FIXED_IN_AZURE: Record<string, string> = {
  QUEUE_TRANSPORT: "servicebus",
  SAS_SIGNING: "userDelegation",
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD",
  // A webhook target inside Azure's network (private, loopback, link-local, the platform address) is refused.
  WEBHOOK_ALLOW_PRIVATE_TARGETS: "false",
};

/** Functions host settings the app needs in Azure besides settingsSchema (identity-based connections). */
const HOST_SETTINGS = ["AzureWebJobsStorage__accountName", "ServiceBusConnection__fullyQualifiedNamespace", "APPLICATIONINSIGHTS_CONNECTION_STRING"];

/** main.bicep parameters that carry a setting; their defaults must equal the schema's. */
const PARAM_FOR_SETTING: Record<string, string> = {
  IMAGE_CONTAINER: "imageContainer",
  IMAGE_FOLDER: "imageFolder",
  EXPORT_CONTAINER: "exportContainer",
  DROPBOX_SAS_DAYS: "dropboxSasDays",
  READ_SAS_MINUTES: "readSasMinutes",
  MAX_DELIVERY_COUNT: "maxDeliveryCount",
  COPY_CONCURRENCY: "copyConcurrency",
  MAX_BODY_BYTES: "maxBodyBytes",
  AZUREML_DATASTORE: "azureMlDatastore",
};

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (file: string) => readFileSync(path.join(root, file), "utf8");

function bicepFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(rel);
    return entry.name.endsWith(".bicep") ? [rel] : [];
  });
}

/** Bicep text with comments removed (string literals kept), so commented-out code never satisfies a check. */
function stripComments(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      const stop = end < 0 ? src.length : end + 3;
      out += src.slice(i, stop);
      i = stop;
    } else if (src[i] === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") j += src[j] === "\\" ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else if (src.startsWith("//", i)) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else {
      out += src[i];
      i++;
    }
  }
  return out;
}

/** Top-level entries of the `{...}` or `[...]` that opens at the end of `opener`'s first match. */
function blockEntries(src: string, opener: RegExp): string[] {
  const match = opener.exec(src);
  if (!match) throw new Error(`no ${opener} in the Bicep`);
  let i = match.index + match[0].length;
  const entries: string[] = [];
  let depth = 1;
  let current = "";
  for (; i < src.length && depth > 0; i++) {
    const c = src[i]!;
    if (c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") j += src[j] === "\\" ? 2 : 1;
      current += src.slice(i, j + 1);
      i = j;
      continue;
    }
    if ("{[(".includes(c)) depth++;
    if ("}])".includes(c)) depth--;
    if (depth === 0) break;
    if (depth === 1 && (c === "\n" || c === ",")) {
      if (current.trim()) entries.push(current.trim());
      current = "";
    } else {
      current += c;
    }
  }
  if (current.trim()) entries.push(current.trim());
  return entries;
}

function objectEntries(src: string, opener: RegExp): Map<string, string> {
  const result = new Map<string, string>();
  for (const entry of blockEntries(src, opener)) {
    const m = /^(?:'([^']+)'|([A-Za-z_][\w]*))\s*:\s*([\s\S]*)$/.exec(entry);
    if (m) result.set((m[1] ?? m[2])!, m[3]!.trim());
  }
  return result;
}

function stringArray(src: string, opener: RegExp): string[] {
  return blockEntries(src, opener).map((entry) => {
    const m = /^'([^'$]*)'$/.exec(entry);
    if (!m) throw new Error(`expected a string literal, got ${entry}`);
    return m[1]!;
  });
}

/** Default of a `param <name> <type> = <value>` in main.bicep, as text without quotes. */
function paramDefault(src: string, name: string): string | undefined {
  const m = new RegExp(`^param ${name} \\w+ = (.+)$`, "m").exec(src);
  return m?.[1]?.trim().replace(/^'(.*)'$/, "$1");
}

/**
 * The Node major that package.json's `engines.node` starts at (`>=22` or `>=22.x.y`): the one runtime
 * the app supports, so Azure runs it and CI tests on it. A range of another shape fails here first.
 */
function enginesNodeMajor(): string {
  const engines = (JSON.parse(read("package.json")) as { engines?: { node?: string } }).engines?.node ?? "";
  const major = /^>=\s*(\d+)(\.\d+){0,2}$/.exec(engines.trim())?.[1];
  if (!major) throw new Error(`package.json engines.node should read ">=<major>", got ${JSON.stringify(engines)}`);
  return major;
}

const files = bicepFiles("infra");
const raw = files.map((f) => read(f)).join("\n");
const byName = new Map(files.map((f) => [f.split(path.sep).join("/"), stripComments(read(f))]));
const bicep = (file: string) => {
  const text = byName.get(file);
  if (text === undefined) throw new Error(`missing ${file}`);
  return text;
};
const main = bicep("infra/main.bicep");
const allCode = [...byName.values()].join("\n");
const settingKeys = Object.keys(settingsSchema.shape);
const defaults = loadConfig({});

describe("infra: Function App settings", () => {
  const appSettingsFiles = [...byName].filter(([, text]) => /^var appSettings = \{/m.test(text));
  const appSettings = objectEntries(appSettingsFiles[0]?.[1] ?? "", /^var appSettings = \{/m);

  it("defines the app settings in one place and applies them to the Function App", () => {
    expect(appSettingsFiles.map(([f]) => f)).toEqual(["infra/modules/functionapp.bicep"]);
    const functionApp = bicep("infra/modules/functionapp.bicep");
    expect(functionApp).toMatch(/'Microsoft\.Web\/sites\/config@[\d-]+(-preview)?' = \{[^}]*name: 'appsettings'\s+properties: appSettings/);
  });

  it("lists only keys of settingsSchema as local-only", () => {
    expect(settingKeys).toEqual(expect.arrayContaining([...LOCAL_ONLY]));
  });

  it("sets every setting the code needs in Azure", () => {
    const needed = settingKeys.filter((k) => !(LOCAL_ONLY as readonly string[]).includes(k));
    const missing = [...needed, ...HOST_SETTINGS].filter((k) => !appSettings.has(k));
    expect(missing, `settings missing from the Function App's app settings in infra/modules/functionapp.bicep`).toEqual([]);
  });

  it("sets no local-only setting in Azure", () => {
    expect(LOCAL_ONLY.filter((k) => appSettings.has(k))).toEqual([]);
  });

  it("uses the Azure transport, user-delegation SAS and identity-based telemetry", () => {
    for (const [key, value] of Object.entries(FIXED_IN_AZURE)) expect(appSettings.get(key), key).toBe(`'${value}'`);
  });

  it("sets nothing Flex Consumption rejects", () => {
    for (const key of ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_NODE_DEFAULT_VERSION", "AzureWebJobsStorage"]) {
      expect(appSettings.has(key), key).toBe(false);
    }
  });

  it("defaults each setting parameter to the schema's default", () => {
    const settings = defaults.settings as Record<string, unknown>;
    for (const [key, param] of Object.entries(PARAM_FOR_SETTING)) {
      expect(paramDefault(main, param), `param ${param} (${key})`).toBe(String(settings[key]));
    }
  });
});

describe("infra: resources the code names", () => {
  it("creates one Service Bus queue per QUEUE_NAMES entry", () => {
    expect(stringArray(main, /^var queueNames = \[/m)).toEqual(QUEUE_NAMES.map((q) => defaults.queue(q)));
    expect(main).toMatch(/module serviceBus 'modules\/servicebus\.bicep' = \{[\s\S]*?queueNames: queueNames/);
    expect(bicep("infra/modules/servicebus.bicep")).toMatch(/'Microsoft\.ServiceBus\/namespaces\/queues@[^']+' = \[\s*for queueName in queueNames:/);
  });

  it("configures the queues for long jobs, duplicate detection and dead-lettering after MAX_DELIVERY_COUNT", () => {
    const sb = bicep("infra/modules/servicebus.bicep");
    const queue = objectEntries(sb, /namespaces\/queues@[^']+' = \[\s*for queueName in queueNames: \{[\s\S]*?properties: \{/);
    expect(queue.get("maxDeliveryCount")).toBe("maxDeliveryCount");
    expect(main).toMatch(/module serviceBus [\s\S]*?maxDeliveryCount: maxDeliveryCount/);
    expect(main).toMatch(/module functionApp [\s\S]*?maxDeliveryCount: maxDeliveryCount/);
    expect(queue.get("requiresDuplicateDetection")).toBe("true");
    expect(queue.get("duplicateDetectionHistoryTimeWindow")).toBeDefined();
    expect(queue.get("deadLetteringOnMessageExpiration")).toBe("true");
    expect(queue.get("lockDuration")).toBeDefined();
    // Basic tier has no duplicate detection.
    expect(sb).toMatch(/sku: \{\s*name: '(Standard|Premium)'/);
  });

  it("creates every table in TABLE_NAMES", () => {
    expect(stringArray(main, /^var tableNames = \[/m)).toEqual(TABLE_NAMES.map((t) => defaults.table(t)));
    expect(main).toMatch(/module storage 'modules\/storage\.bicep' = \{[\s\S]*?tableNames: tableNames/);
    expect(bicep("infra/modules/storage.bicep")).toMatch(
      /'Microsoft\.Storage\/storageAccounts\/tableServices\/tables@[^']+' = \[\s*for tableName in tableNames:/,
    );
  });

  it("creates the image, export and deployment-package containers", () => {
    const containers = blockEntries(main, /containerNames: \[/);
    expect(containers).toEqual(expect.arrayContaining(["imageContainer", "exportContainer", "deploymentContainerName"]));
    expect(paramDefault(main, "imageContainer")).toBe(defaults.imageContainer);
    expect(paramDefault(main, "exportContainer")).toBe(defaults.exportContainer);
    expect(bicep("infra/modules/storage.bicep")).toMatch(/blobServices\/containers@[^']+' = \[\s*for containerName in containerNames:/);
    expect(bicep("infra/modules/functionapp.bicep")).toMatch(/value: '\$\{storage\.properties\.primaryEndpoints\.blob\}\$\{deploymentStorageContainerName\}'/);
  });

  it("runs on Flex Consumption with the Node major of package.json's engines, which .ci/run tests too", () => {
    const app = bicep("infra/modules/functionapp.bicep");
    expect(app).toMatch(/sku: \{\s*tier: 'FlexConsumption'\s*name: 'FC1'/);
    const major = enginesNodeMajor();
    expect(/runtime: \{\s*name: 'node'\s*version: '(\d+)'/.exec(app)?.[1], "the Function App's runtime version").toBe(major);
    expect(/^AZURE_NODE_MAJOR=(\d+)$/m.exec(read(".ci/run"))?.[1], "AZURE_NODE_MAJOR in .ci/run").toBe(major);
    expect(read("azure.yaml"), "the runtime azure.yaml names").toContain(`Node ${major})`);
    expect(app).toMatch(/identity: \{\s*type: 'SystemAssigned'/);
    expect(app).toMatch(/'azd-service-name': serviceName/);
  });

  it("grants the app's identity the data roles it uses", () => {
    const appRoles = /module appRoles [\s\S]*?\n\}/.exec(main)?.[0] ?? "";
    for (const role of [
      "storageBlobDataOwner",
      "storageTableDataContributor",
      "storageQueueDataContributor",
      "serviceBusDataOwner",
      "monitoringMetricsPublisher",
    ]) {
      expect(appRoles, role).toContain(`roles.${role}`);
    }
    const ids = objectEntries(main, /^var roles = \{/m);
    expect(ids.get("storageBlobDataOwner")).toBe("'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'");
    expect(ids.get("storageTableDataContributor")).toBe("'0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'");
    expect(ids.get("storageQueueDataContributor")).toBe("'974c5e8b-45b9-4653-ba55-5f855dd0fb88'");
    expect(ids.get("serviceBusDataOwner")).toBe("'090c5cfd-751d-490a-894a-3ce6f1109419'");
    expect(ids.get("monitoringMetricsPublisher")).toBe("'3913510d-42f4-4e42-8a64-420c390055eb'");
  });
});

describe("infra: no keys", () => {
  const params = read("infra/main.parameters.json");

  it("contains no account key, listKeys() or SAS connection string", () => {
    for (const text of [raw, params]) {
      expect(text).not.toMatch(/AccountKey=/i);
      expect(text).not.toMatch(/listKeys\(/i);
      expect(text).not.toMatch(/SharedAccessKey/i);
      expect(text).not.toMatch(/listConnectionStrings|SharedAccessSignature/i);
    }
  });

  it("turns key-based access off where the resource allows it", () => {
    expect(bicep("infra/modules/storage.bicep")).toMatch(/allowSharedKeyAccess: false/);
    expect(bicep("infra/modules/servicebus.bicep")).toMatch(/disableLocalAuth: true/);
    expect(bicep("infra/modules/monitoring.bicep")).toMatch(/DisableLocalAuth: true/);
  });

  it("deploys with azd as a TypeScript function app", () => {
    const azd = read("azure.yaml");
    expect(azd).toMatch(/^\s+host: function$/m);
    expect(azd).toMatch(/^\s+language: (ts|js)$/m);
    expect(azd).toMatch(/^\s+project: \.$/m);
    expect(allCode).toMatch(/^targetScope = 'subscription'$/m);
  });
});

describe("local.settings.sample.json", () => {
  const sample = JSON.parse(read("local.settings.sample.json")) as { IsEncrypted: boolean; Values: Record<string, string> };

  it("lists every key of settingsSchema plus the Functions host basics", () => {
    expect(sample.IsEncrypted).toBe(false);
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe("node");
    expect(sample.Values.AzureWebJobsStorage).toBe("UseDevelopmentStorage=true");
    expect(settingKeys.filter((k) => !(k in sample.Values))).toEqual([]);
    for (const [key, value] of Object.entries(sample.Values)) expect(typeof value, key).toBe("string");
  });

  it("holds working local values: they load to the same settings as the defaults", () => {
    // An empty value means "unset" (`func start` passes it through as an empty environment variable).
    const values = Object.fromEntries(Object.entries(sample.Values).filter(([, v]) => v !== ""));
    const local = loadConfig(values);
    // SAS_SIGNING is derived when unset; the sample spells out what it derives to.
    expect(local.sasSigning).toBe(defaults.sasSigning);
    expect({ ...local.settings, SAS_SIGNING: undefined }).toEqual({ ...defaults.settings, SAS_SIGNING: undefined });
    expect(local.imageContainer).toBe(defaults.imageContainer);
    // `func start` passes every value as is, empty ones included, and the worker files load them as they register.
    expect(loadConfig(sample.Values).settings).toEqual(local.settings);
  });
});

describe("host.json", () => {
  const host = JSON.parse(read("host.json")) as {
    version: string;
    functionTimeout?: string;
    extensionBundle?: { id: string; version: string };
    logging?: { logLevel?: Record<string, string> };
    extensions?: { http?: { routePrefix?: string }; serviceBus?: Record<string, unknown>; queues?: Record<string, unknown> };
  };
  const seconds = (span: string) => {
    const [h, m, s] = span.split(":").map(Number);
    return (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
  };

  it("uses the v4 extension bundle and the api route prefix", () => {
    expect(host.version).toBe("2.0");
    expect(host.extensionBundle).toEqual({ id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" });
    expect(host.extensions?.http?.routePrefix).toBe("api");
    expect(host.logging?.logLevel?.default).toBe("Information");
  });

  it("configures the Service Bus trigger", () => {
    const sb = host.extensions?.serviceBus ?? {};
    expect(sb.maxConcurrentCalls).toEqual(expect.any(Number));
    expect(sb.autoCompleteMessages).toBe(true);
    expect(sb.prefetchCount).toBe(0);
    expect(sb.maxAutoLockRenewalDuration).toEqual(expect.stringMatching(/^\d\d:\d\d:\d\d$/));
    // The lock must be renewable for as long as a function may run.
    expect(host.functionTimeout).toEqual(expect.stringMatching(/^\d\d:\d\d:\d\d$/));
    expect(seconds(sb.maxAutoLockRenewalDuration as string)).toBeGreaterThanOrEqual(seconds(host.functionTimeout!));
  });

  it("configures the Storage-queue trigger (`func start` on Azurite) like the local host's queues", () => {
    const queues = host.extensions?.queues ?? {};
    // Dead-lettered to <queue>-poison after as many deliveries as the worker counts before it marks the resource failed.
    expect(queues.maxDequeueCount).toBe(defaults.settings.MAX_DELIVERY_COUNT);
    // StorageQueueJobSender writes base64; the trigger must decode it.
    expect(queues.messageEncoding).toBe("base64");
    expect(queues.visibilityTimeout).toEqual(expect.stringMatching(/^\d\d:\d\d:\d\d$/));
    // An idle queue is polled at least this often, so a job queued after a quiet spell starts within seconds.
    expect(seconds(queues.maxPollingInterval as string)).toBeLessThanOrEqual(5);
    // At most batchSize + newBatchThreshold messages at once per function: the local host runs 8.
    expect(Number(queues.batchSize) + Number(queues.newBatchThreshold)).toBe(8);
  });
});
