/**
 * The local host in a process of its own, configured from its environment only, as the Functions host
 * is in Azure: the managed-identity test starts it with STORAGE_ACCOUNT_NAME-style settings, the
 * managed-identity endpoint's IDENTITY_ENDPOINT/IDENTITY_HEADER (so the app's DefaultAzureCredential is
 * the credential) and NODE_EXTRA_CA_CERTS for Azurite's test certificate. Prints one JSON line with its
 * URL once it serves; stops cleanly on SIGTERM.
 */
import { loadConfig } from "../../shared/config.js";
import { startLocalHost } from "../../scripts/localHost.js";

const host = await startLocalHost({
  config: loadConfig(),
  retryDelaySeconds: () => 0,
  visibilityTimeoutSeconds: 30,
  log: (line) => console.error(line),
});
console.log(JSON.stringify({ url: host.url }));
const stop = () => {
  host.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGTERM", stop);
// The test holds our stdin: when it goes away without stopping us (a crash, a kill), so do we.
process.stdin.once("end", stop);
process.stdin.resume();
